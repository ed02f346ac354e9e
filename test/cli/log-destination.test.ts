import { describe, expect, it } from 'vitest'
import { formatLogLine } from '../../src/cli/log-destination.js'

describe('terminal log lines', () => {
  it('turns a pino JSON line into time, level, message and fields', () => {
    const line = JSON.stringify({ level: 30, time: Date.parse('2026-01-02T03:04:05Z'), pid: 1, msg: 'stored', id: 'abc', rcpts: ['a@x.test'] })
    expect(formatLogLine(line)).toBe('03:04:05 INFO  stored id=abc rcpts=["a@x.test"]\n')
  })
  it('shows an error message and passes non-JSON through', () => {
    expect(formatLogLine(JSON.stringify({ level: 50, time: 0, msg: 'store failed', err: { message: 'disk full' } }))).toBe(
      '00:00:00 ERROR store failed err=disk full\n',
    )
    expect(formatLogLine('plain text\n')).toBe('plain text\n')
  })
})
