import { CommandError } from '../agent.js';
import type { DeviceEvent } from '../bus/events.js';
import { MqttNativeDevice, type MqttDeviceOptions } from './mqtt-native.js';

export interface NameplateLines extends Record<string, unknown> {
  line_1: string;
  line_2: string;
  line_3: string;
}

export interface NameplateState extends Record<string, unknown> {
  name: string;
  title: string;
  lines: NameplateLines;
  /** percent; the simulated battery does not drain */
  battery: number;
}

const blankLines = (): NameplateLines => ({ line_1: '', line_2: '', line_3: '' });

/**
 * A simulated e-ink table nameplate (`lawbox/eink-nameplate`): the server sets name, title and extra
 * lines over `/set` (lines one at a time if it likes: members not sent stay as they are) or blanks it
 * with the `clear` action. Every accepted change redraws the panel once, counted in `refreshes` and
 * reported as a `display_updated` event, since on e-ink a redraw is the slow, visible and
 * battery-costly step.
 */
export class EinkNameplateSimulator extends MqttNativeDevice<NameplateState> {
  #refreshes = 0;

  constructor(opts: MqttDeviceOptions) {
    super('lawbox/eink-nameplate', opts, { name: '', title: '', lines: blankLines(), battery: 100 });
  }

  /** How many times the panel has been redrawn. */
  get refreshes(): number {
    return this.#refreshes;
  }

  /** Someone presses one of the plate's buttons (1–4), e.g. to ask to speak: `button_pressed` event. */
  async pressButton(button: number): Promise<DeviceEvent> {
    return this.send(this.event('button_pressed', { button }));
  }

  protected write(values: Partial<NameplateState>): DeviceEvent {
    if (values.name !== undefined) this.state.name = values.name;
    if (values.title !== undefined) this.state.title = values.title;
    if (values.lines !== undefined) this.state.lines = { ...this.state.lines, ...values.lines };
    return this.refresh();
  }

  protected act(action: string): DeviceEvent {
    if (action !== 'clear') throw new CommandError('NOT_SUPPORTED', `the simulated nameplate does not implement ${action}`);
    this.state.name = '';
    this.state.title = '';
    this.state.lines = blankLines();
    return this.refresh();
  }

  private refresh(): DeviceEvent {
    this.#refreshes += 1;
    return this.event('display_updated', {});
  }
}
