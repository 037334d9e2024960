/** The size of every scenario, for the full suite and for --quick. */

export interface Params {
  readonly reps: number
  /**
   * `warmup`: keystrokes typed and discarded before each measured run (see fanout.ts);
   * `serverWarmup`: keystrokes typed and discarded once per server start, at their own rate,
   * before any reader joins, so that the server is measured hot (see fanout.ts);
   * `readerProcesses`: load processes the readers are spread over (the typist has its own).
   */
  readonly fanout: { readonly readers: readonly number[]; readonly edits: number; readonly rate: number; readonly warmup: number; readonly serverWarmup: { readonly edits: number; readonly rate: number }; readonly readerProcesses: number }
  /** `warmupMs`: typing before the measured `durationMs`, discarded (see rooms.ts). */
  readonly rooms: { readonly rooms: number; readonly perRoom: number; readonly rate: number; readonly turnMs: number; readonly durationMs: number; readonly warmupMs: number }
  /**
   * `inFlightBytes`: update bytes the typist may have sent that its watcher does not hold yet
   * (it goes on at half). Counting only the socket's own buffer (bufferedAmount) bounded nothing:
   * on loopback the kernel took another 3-4 MB first, and a server that fell behind then read
   * over 1 MB of keystrokes in one turn. Hocuspocus merges what it reads in a turn with one
   * Y.mergeUpdates, whose cost grows much faster than the count: at 256 KiB its replays took
   * 16-42 s, and the suite over 10 minutes.
   *
   * `storedWaitMs`: how long the harness waits, after the replay, for a server to finish storing
   * it before it restarts the server for the cold open. Tandem and Hocuspocus are done within a
   * second; the reference server relays before it stores and goes on writing LevelDB for about a
   * minute, so in the suite (5 s) it is stopped half-way and its cold open loses the document.
   * `--wait-stored` waits up to 5 minutes, which measures its cold open but takes each of its
   * repetitions a minute longer.
   */
  readonly replay: { readonly updates: number; readonly inFlightBytes: number; readonly storedWaitMs: number }
  readonly storm: { readonly rooms: number; readonly perRoom: number; readonly edits: number }
  readonly memory: { readonly idle: number; readonly docs: number; readonly docUpdates: number }
  /**
   * `clients` idle in one room, shared by `loadProcesses` load processes, joining one at a time
   * over `spreadMs` (one renewal period, so that their renewals spread as a room's do); `windowMs`:
   * how long what they receive is counted. Stock clients renew their awareness every 15-18 s, so
   * 35 s covers about two renewals of each (20 s, in --quick, one).
   */
  readonly presence: { readonly clients: number; readonly spreadMs: number; readonly windowMs: number; readonly loadProcesses: number }
  /**
   * Whether y-websocket's clients send back every awareness state they apply, other people's
   * included, as its provider does (`--echo`). Off, they drop that echo, so that every server
   * receives what Hocuspocus's provider, which sends only its own state, sends.
   */
  readonly echo: boolean
}

export const FULL: Params = {
  reps: 3,
  fanout: { readers: [50, 200], edits: 100, rate: 20, warmup: 20, serverWarmup: { edits: 300, rate: 400 }, readerProcesses: 2 },
  rooms: { rooms: 500, perRoom: 4, rate: 5, turnMs: 2000, durationMs: 6_000, warmupMs: 1000 },
  replay: { updates: 259_778, inFlightBytes: 128 * 1024, storedWaitMs: 5_000 },
  storm: { rooms: 100, perRoom: 10, edits: 100 },
  memory: { idle: 1000, docs: 50, docUpdates: 5000 },
  presence: { clients: 500, spreadMs: 16_500, windowMs: 35_000, loadProcesses: 2 },
  echo: false,
}

export const QUICK: Params = {
  reps: 1,
  fanout: { readers: [50, 200], edits: 40, rate: 20, warmup: 10, serverWarmup: { edits: 100, rate: 400 }, readerProcesses: 2 },
  rooms: { rooms: 100, perRoom: 4, rate: 5, turnMs: 1000, durationMs: 4_000, warmupMs: 500 },
  replay: { updates: 20_000, inFlightBytes: 128 * 1024, storedWaitMs: 5_000 },
  storm: { rooms: 30, perRoom: 10, edits: 50 },
  memory: { idle: 200, docs: 10, docUpdates: 5000 },
  presence: { clients: 200, spreadMs: 16_500, windowMs: 20_000, loadProcesses: 2 },
  echo: false,
}

/** `--wait-stored`: every server finishes storing the replay before its cold open. */
export const STORED_WAIT_MS = 300_000
