/**
 * An in-memory stand-in for Redis between rooms of different "instances": whatever a room
 * publishes waits in every other instance's inbox until the test delivers it, drops it, or
 * delivers it out of order. Like Redis, it never echoes a message to its sender.
 */
import type { Envelope, FanoutMessage } from '../../src/fanout/fanout.js'
import type { Room, RoomLink } from '../../src/room.js'
import type { Rng } from './random.js'

interface Member {
  room: Room | null
  readonly inbox: Envelope[]
}

export class FakeNetwork {
  private readonly members = new Map<string, Member>()
  /** Every message ever published, for assertions ("B published nothing"). */
  readonly published: Array<{ readonly from: string; readonly message: FanoutMessage }> = []

  /** The link to give Room.load for `instance`; attach the room once it exists. */
  link(instance: string): RoomLink {
    this.member(instance)
    return {
      publish: (message) => {
        this.published.push({ from: instance, message })
        for (const [id, member] of this.members) {
          if (id !== instance) member.inbox.push({ from: instance, sentAt: Date.now(), message })
        }
      },
    }
  }

  attach(instance: string, room: Room): void {
    this.member(instance).room = room
  }

  /** Messages waiting for `instance`, oldest first. */
  inbox(instance: string): Envelope[] {
    return this.member(instance).inbox
  }

  /** Delivers what waits for `instance`, in order (or only the first `count`). */
  deliver(instance: string, count = Infinity): void {
    const member = this.member(instance)
    const taken = member.inbox.splice(0, Math.min(count, member.inbox.length))
    for (const envelope of taken) member.room!.receive(envelope)
  }

  /** Loses everything that waits for `instance` (a Redis disconnect). */
  drop(instance: string): number {
    return this.member(instance).inbox.splice(0).length
  }

  /**
   * Delivers or drops one random waiting message for `instance`: not necessarily the oldest, and
   * sometimes twice (a reconnecting client may see a message again).
   */
  shuffleStep(instance: string, rng: Rng, dropRate: number): void {
    const member = this.member(instance)
    if (member.inbox.length === 0) return
    const at = rng.int(member.inbox.length)
    const envelope = member.inbox[at]!
    if (rng.float() >= 0.1) member.inbox.splice(at, 1)
    if (rng.float() < dropRate) return
    member.room!.receive(envelope)
  }

  private member(instance: string): Member {
    let member = this.members.get(instance)
    if (!member) this.members.set(instance, (member = { room: null, inbox: [] }))
    return member
  }
}
