import type { Protocol } from '../../../firmware-profiles/index.js';
import type { DriverFactory } from './driver.js';
import { hidCardReaderDriver } from './hid/card-reader.js';
import { onvifCameraDriver } from './onvif/camera.js';
import { idCardReaderDriver } from './serial/id-card-reader.js';
import { osdpReaderDriver } from './serial/osdp-cp.js';
import { relayBoardDriver } from './serial/relay.js';
import { mdcDisplayDriver } from './tcp/mdc-display.js';

/**
 * The driver of each profile protocol. `null`: the device speaks the lawbox MQTT contract itself
 * (meeting terminals, nameplates), so the agent only lists it and never opens it.
 */
export const DRIVERS: Record<Protocol, DriverFactory | null> = {
  osdp: osdpReaderDriver,
  usb_relay: relayBoardDriver,
  id_card_sam: idCardReaderDriver,
  hid_keyboard_wedge: hidCardReaderDriver,
  samsung_mdc: mdcDisplayDriver,
  onvif: onvifCameraDriver,
  lawbox_mqtt: null,
};
