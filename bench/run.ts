/** `npm run bench`: every benchmark, one after another, each in its own process so none warms another. */
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const BENCHES = ['matcher', 'regex-vs-fail2ban', 'date-detector', 'embedded-log', 'pipeline', 'fleet', 'actuate', 'store', 'api', 'replay']
for (const name of BENCHES) {
  console.log(`\n== ${name}`)
  const r = spawnSync(process.execPath, [join(here, `${name}.js`)], { stdio: 'inherit' })
  if (r.status !== 0) process.exitCode = 1
}
