// HAProxy's runtime API on the admin socket (`stats socket … level admin`): changes HAProxy
// takes without a reload — map and ACL entries today. Commands are sent in batches
// separated by ';' (one connection per batch); the map/ACL commands answer nothing on
// success, so any text in the answer is HAProxy's error and fails the whole update.
import { LumosError } from '../../proto/lumos-error.ts'
import { cliCommand } from './cli-socket.ts'

/** Bytes of commands per connection; HAProxy reads a command line into one 16 KB buffer. */
const BATCH_BYTES = 8000

/** Escapes a CLI argument: HAProxy splits on spaces and ';' unless backslash-escaped. */
export function cliArg (value: string): string {
  return value.replace(/[\\; ]/g, char => `\\${char}`)
}

export async function runRuntimeCommands (socketPath: string, commands: readonly string[], timeoutMs = 5000): Promise<void> {
  let batch: string[] = []
  let size = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const answer = (await cliCommand(socketPath, batch.join(';'), timeoutMs)).trim()
    if (answer !== '') {
      throw new LumosError('HAPROXY_RUNTIME_FAILED', `HAProxy refused a runtime API update (${batch.length} commands from "${batch[0]}"): ${answer.slice(0, 1000)}`)
    }
    batch = []
    size = 0
  }
  for (const command of commands) {
    if (size + command.length + 1 > BATCH_BYTES) await flush()
    batch.push(command)
    size += command.length + 1
  }
  await flush()
}
