// HAProxy's runtime API on the admin socket (`stats socket … level admin`): changes HAProxy
// takes without a reload: map and ACL entries, server addresses and weights. Commands are
// sent in batches separated by ';' (one connection per batch). The map/ACL commands and
// `set server … weight` answer nothing on success and `set server … addr` a notice of what
// it changed; any other text in the answer is HAProxy's error and fails the whole update.
import { LumosError } from '../../proto/lumos-error.ts'
import { cliCommand } from './cli-socket.ts'

/** Bytes of commands per connection; HAProxy reads a command line into one 16 KB buffer. */
const BATCH_BYTES = 8000

/** What `set server <b>/<s> addr` answers when it succeeded (changed or not). */
const SUCCESS_NOTICE = /^(?:IP changed from|no need to change the addr)[^\n]* by 'stats socket command'$/

/** HAProxy's answer to a batch without its success notices: empty when every command succeeded. */
export function runtimeErrors (answer: string): string {
  return answer.split('\n').map(line => line.trim()).filter(line => line !== '' && !SUCCESS_NOTICE.test(line)).join('\n')
}

/** Escapes a CLI argument: HAProxy splits on spaces and ';' unless backslash-escaped. */
export function cliArg (value: string): string {
  return value.replace(/[\\; ]/g, char => `\\${char}`)
}

export async function runRuntimeCommands (socketPath: string, commands: readonly string[], timeoutMs = 5000): Promise<void> {
  let batch: string[] = []
  let size = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const answer = runtimeErrors(await cliCommand(socketPath, batch.join(';'), timeoutMs))
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
