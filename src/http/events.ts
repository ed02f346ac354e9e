import { EventEmitter } from 'node:events'

/** What the UI hears about over server-sent events. */
export type StoreEvent =
  | { type: 'new'; message: Record<string, unknown> }
  | { type: 'indexed'; ids: string[] }
  | { type: 'update' }
  | { type: 'delete' }

export interface EventHub {
  emit(event: StoreEvent): void
  /** Whether anybody listens: callers skip building an event nobody would receive. */
  hasSubscribers(): boolean
  subscribe(listener: (event: StoreEvent) => void): () => void
}

export function createEventHub(): EventHub {
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0) // one listener per open browser tab
  return {
    emit(event) {
      emitter.emit('event', event)
    },
    hasSubscribers() {
      return emitter.listenerCount('event') > 0
    },
    subscribe(listener) {
      emitter.on('event', listener)
      return () => emitter.off('event', listener)
    },
  }
}
