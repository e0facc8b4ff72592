// Types for index.js (plain ESM, no build step). Keep in step with schema/*.json.

export type MessageKind =
  | 'agent_state'
  | 'agent_config'
  | 'agent_access'
  | 'device_state'
  | 'device_availability'
  | 'device_set'
  | 'device_result'
  | 'event';

export type Category =
  | 'door_controller' | 'card_reader' | 'relay' | 'id_card_reader'
  | 'display' | 'camera' | 'meeting_terminal' | 'nameplate';
export type Protocol =
  | 'osdp' | 'usb_relay' | 'id_card_sam' | 'hid_keyboard_wedge' | 'samsung_mdc' | 'onvif' | 'lawbox_mqtt';
export type TransportType = 'serial' | 'tcp' | 'hid' | 'onvif' | 'mqtt';

export interface I18nText { zh: string; en: string }
export type UsbId = string | number;

export type Transport =
  | { type: 'serial'; baud_rate: number; data_bits: 5 | 6 | 7 | 8; parity: 'none' | 'even' | 'odd' | 'mark' | 'space'; stop_bits: 1 | 1.5 | 2; rs485?: boolean; flow_control?: 'none' | 'rts_cts' | 'xon_xoff' }
  | { type: 'tcp'; port: number; tls?: boolean }
  | { type: 'hid'; vendor_id: UsbId; product_id: UsbId; usage_page?: number; usage?: number; mode: 'keyboard_wedge' | 'raw' }
  | { type: 'onvif'; port: number; path: string; discovery?: boolean; profile_s: string[]; rtsp_port?: number }
  | { type: 'mqtt'; native: true; heartbeat_s?: number };

export interface Access { read: boolean; write: boolean; event: boolean }
export interface Expose {
  property: string;
  type: 'binary' | 'numeric' | 'enum' | 'text' | 'composite' | 'event';
  access: Access;
  description: I18nText;
  value_on?: string | boolean | number;
  value_off?: string | boolean | number;
  values?: (string | number)[];
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
  max_length?: number;
  features?: Expose[];
  personal_data?: boolean;
}
export interface Param {
  type: 'boolean' | 'integer' | 'number' | 'string' | 'enum' | 'object' | 'array';
  required?: boolean;
  min?: number;
  max?: number;
  max_length?: number;
  values?: (string | number)[];
  unit?: string;
  default?: unknown;
  description?: I18nText;
}
export interface Command {
  kind: 'property' | 'action';
  handler: string;
  params?: Record<string, Param>;
  description: I18nText;
  permission?: string;
}
export interface ProfileEvent { type: string; origin: 'device' | 'agent'; data?: Record<string, Param>; description: I18nText }
export interface Defaults {
  pulse_ms?: number;
  fail_mode?: 'fail_secure' | 'fail_safe';
  held_open_ms?: number;
  relay_channels?: number;
  inputs?: number;
  osdp_address?: number;
  osdp_secure_channel?: boolean;
  mdc_display_id?: number;
  poll_interval_ms?: number;
  reply_timeout_ms?: number;
  card_format?: 'wiegand_26' | 'wiegand_34' | 'raw_hex' | 'decimal_10' | 'decimal_8h10d';
  stream_profile?: string;
  ptz_timeout_ms?: number;
  rtsp_transport?: 'tcp' | 'udp';
  debounce_ms?: number;
}
export interface Profile {
  id: string;
  vendor: string;
  model: string;
  generic: boolean;
  name: I18nText;
  description?: I18nText;
  category: Category;
  transports: Transport[];
  protocol: Protocol;
  protocol_version?: string;
  exposes: Expose[];
  commands: Record<string, Command>;
  events: ProfileEvent[];
  fingerprint?: Record<string, unknown>;
  defaults?: Defaults;
  notes?: I18nText;
  references?: string[];
}

/** Absolute path of the firmware-profiles folder (the default catalogue). */
export const PROFILES_DIR: string;
export const messageKinds: readonly MessageKind[];
export const protocolTransports: Readonly<Record<Protocol, readonly TransportType[]>>;
export const defsSchema: Record<string, unknown>;
export const profileSchema: Record<string, unknown>;
export const messageSchemas: Readonly<Record<MessageKind, Record<string, unknown>>>;

export interface CatalogProblem { file: string; message: string }
export class ProfileCatalogError extends Error {
  readonly code: 'INVALID_PROFILE';
  readonly problems: CatalogProblem[];
  constructor(problems: CatalogProblem[]);
}

/** `<path> <message>` lines from Ajv errors. */
export function formatErrors(errors: unknown[] | null | undefined): string[];
/** Problems of one profile object (schema, then catalogue rules); empty when valid. */
export function validateProfile(profile: unknown, expectedId?: string): string[];
/** Every `<vendor>/<model>.json` under dir, validated; throws one ProfileCatalogError listing all problems. */
export function loadProfiles(dir?: string): Map<string, Profile>;
export function validateMessage(kind: MessageKind, payload: unknown): { ok: true } | { ok: false; errors: string[] };
export function topicKind(topic: string): { kind: MessageKind; agent?: string; device?: string; type?: string } | undefined;
