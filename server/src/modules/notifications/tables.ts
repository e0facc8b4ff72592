// Table types of this module's migration; joined into db/schema.ts.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NotificationsTables {}
