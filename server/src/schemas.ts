import { Type, type TSchema } from 'typebox';

/** Every error the API returns has this shape. */
export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }) },
  { additionalProperties: false, $id: 'ErrorResponse' },
);

/** A route's success responses plus the shared error shape for 4xx and 5xx. */
export function responses<T extends Record<number, TSchema>>(ok: T) {
  return { ...ok, '4xx': Type.Ref('ErrorResponse'), '5xx': Type.Ref('ErrorResponse') };
}

export const Empty = Type.Object({}, { additionalProperties: false });
export const Ok = Type.Object({ ok: Type.Literal(true) }, { additionalProperties: false });
/** A value or null: optional fields a client may clear. */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** A row id: PostgreSQL `integer`, so larger numbers are refused here instead of failing in the database. */
export const Id = (options: { description?: string } = {}) => Type.Integer({ minimum: 1, maximum: 2_147_483_647, ...options });

export const IdParams = Type.Object({ id: Id() }, { additionalProperties: false });
