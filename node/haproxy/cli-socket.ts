// One request/answer exchange with a HAProxy CLI socket (master CLI or admin socket):
// connect, send the command line, half-close, read until HAProxy closes.
import { createConnection } from 'node:net'

/** Sends one command to a HAProxy CLI socket and returns the full answer. */
export async function cliCommand (socketPath: string, command: string, timeoutMs = 3000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let answer = ''
    const timer = setTimeout(() => { socket.destroy(new Error(`HAProxy CLI ${socketPath} did not answer "${command}" within ${timeoutMs} ms`)) }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.end(`${command}\n`))
    socket.on('data', (chunk: string) => { answer += chunk })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
  })
}
