import { EventEmitter } from 'node:events'

/** What the UI hears about over server-sent events. */
export type StoreEvent =
  | { type: 'new'; message: Record<string, unknown> }
  | { type: 'indexed'; ids: string[] }
  /** `ids` and `read` when the change was a read flag on known messages (Mailpit's websocket "update"). */
  | { type: 'update'; ids?: string[]; read?: boolean }
  /** `ids` when the deleted messages are known by ID (Mailpit's websocket "delete"). */
  | { type: 'delete'; ids?: string[] }

export interface EventHub {
  emit(event: StoreEvent): void
  /** Whether anybody listens: callers skip building an event nobody would receive. */
  hasSubscribers(): boolean
  /** `onClose` runs when the server stops, so that long-lived streams end instead of holding it. */
  subscribe(listener: (event: StoreEvent) => void, onClose?: () => void): () => void
  /** Ends every subscription (server shutdown). */
  close(): void
}

export function createEventHub(onListenerCount?: (count: number) => void): EventHub {
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0) // one listener per open browser tab
  const count = (): void => onListenerCount?.(emitter.listenerCount('event'))
  return {
    emit(event) {
      emitter.emit('event', event)
    },
    hasSubscribers() {
      return emitter.listenerCount('event') > 0
    },
    subscribe(listener, onClose) {
      emitter.on('event', listener)
      if (onClose) emitter.on('close', onClose)
      count()
      return () => {
        emitter.off('event', listener)
        if (onClose) emitter.off('close', onClose)
        count()
      }
    },
    close() {
      emitter.emit('close')
    },
  }
}
