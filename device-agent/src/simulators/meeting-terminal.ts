import { CommandError } from '../agent.js';
import type { DeviceEvent } from '../bus/events.js';
import { exposeProblem, MqttNativeDevice, show, type MqttDeviceOptions } from './mqtt-native.js';

export interface TerminalState extends Record<string, unknown> {
  document: string | null;
  page: number;
  follow_presenter: boolean;
  signed_in: boolean;
  /** an internal participant id, never a name */
  participant: string | null;
  vote: { vote_id: string; choice: string | null } | null;
}

/** The vote on screen, as `start_vote` set it. */
export interface Ballot {
  vote_id: string;
  question: string;
  options: string[];
}

/**
 * A simulated paperless meeting terminal (`lawbox/paperless-terminal`). The server drives it over
 * `/set` (document, page, follow_presenter; start_vote, end_vote, request_sign_in); the participant's
 * own actions (`signIn`, `vote`, `turnPage`) change its state and raise events.
 *
 * Only the participant's own actions raise events: a page the terminal took from the presenter through
 * `/set` is answered on `/result`, and an event for it would come back to the server as a page turn
 * of its own, once per following terminal.
 */
export class MeetingTerminalSimulator extends MqttNativeDevice<TerminalState> {
  #ballot: Ballot | null = null;
  #signInMeeting: string | null = null;

  constructor(opts: MqttDeviceOptions) {
    super('lawbox/paperless-terminal', opts, { document: null, page: 1, follow_presenter: true, signed_in: false, participant: null, vote: null });
  }

  get ballot(): Ballot | null {
    return this.#ballot;
  }

  /** The meeting the last `request_sign_in` asked the participant to sign in to. */
  get signInMeeting(): string | null {
    return this.#signInMeeting;
  }

  /** The participant signs in (card, QR code, PIN or face): `sign_in` event. */
  async signIn(participant: string, method = 'card'): Promise<DeviceEvent> {
    this.check('participant', participant);
    const event = this.event('sign_in', { participant, method });
    this.state.signed_in = true;
    this.state.participant = participant;
    this.publishState();
    return this.send(event);
  }

  /** The participant votes in the open vote (may change their mind until it ends): `vote_cast` event. */
  async vote(voteId: string, choice: string): Promise<DeviceEvent> {
    if (this.#ballot?.vote_id !== voteId) throw new CommandError('NO_SUCH_VOTE', `vote ${voteId} is not open on this terminal`);
    if (!this.#ballot.options.includes(choice)) throw new CommandError('BAD_VALUE', `choice must be one of ${this.#ballot.options.join(', ')}, got ${show(choice)}`);
    const event = this.event('vote_cast', { vote_id: voteId, choice });
    this.state.vote = { vote_id: voteId, choice };
    this.publishState();
    return this.send(event);
  }

  /** The participant turns to `page` on their own terminal: `page_changed` event. */
  async turnPage(page: number): Promise<DeviceEvent> {
    this.check('page', page);
    const event = this.event('page_changed', this.state.document === null ? { page } : { document: this.state.document, page });
    this.state.page = page;
    this.publishState();
    return this.send(event);
  }

  protected write(values: Partial<TerminalState>): void {
    // A page from /set is the presenter's: a participant reading on their own is not moved. Checked
    // before anything changes, so a refused command leaves the terminal as it was.
    const following = values.follow_presenter ?? this.state.follow_presenter;
    if (values.page !== undefined && !following) {
      throw new CommandError('NOT_FOLLOWING', 'follow_presenter is off, the participant is reading on their own: set follow_presenter to true to move their page');
    }
    if (values.follow_presenter !== undefined) this.state.follow_presenter = values.follow_presenter;
    if (values.document !== undefined && values.document !== this.state.document) {
      this.state.document = values.document;
      this.state.page = 1;
    }
    if (values.page !== undefined) this.state.page = values.page;
  }

  protected act(action: string, params: Record<string, unknown>): void {
    switch (action) {
      case 'start_vote': {
        if (this.#ballot) throw new CommandError('VOTE_IN_PROGRESS', `vote ${this.#ballot.vote_id} is still open: end it first`);
        const options = params.options as unknown[];
        const choice = this.expose('vote')?.features?.find((f) => f.property === 'choice');
        if (!choice) throw new Error(`${this.profile.id} has no vote.choice to vote with`);
        if (options.length === 0 || new Set(options).size !== options.length) throw new CommandError('BAD_VALUE', 'params.options must list distinct choices');
        options.forEach((option, i) => {
          const problem = exposeProblem(choice, option, `params.options[${i}]`);
          if (problem) throw new CommandError('BAD_VALUE', problem);
        });
        this.#ballot = { vote_id: params.vote_id as string, question: params.question as string, options: [...(options as string[])] };
        this.state.vote = { vote_id: this.#ballot.vote_id, choice: null };
        return;
      }
      case 'end_vote':
        if (this.#ballot?.vote_id !== params.vote_id) throw new CommandError('NO_SUCH_VOTE', `vote ${String(params.vote_id)} is not open on this terminal`);
        this.#ballot = null;
        this.state.vote = null;
        return;
      case 'request_sign_in':
        // A new sign-in round: whoever signed in before has to do it again for this meeting.
        this.#signInMeeting = params.meeting as string;
        this.state.signed_in = false;
        this.state.participant = null;
        return;
      default:
        throw new CommandError('NOT_SUPPORTED', `the simulated terminal does not implement ${action}`);
    }
  }
}
