// npm run build: the shipping form of the two daemons. Bundles node/bin.ts and
// coordinator/bin.ts with esbuild into dist/ (one ESM file each, plain JS: no type
// stripping at start-up, and one module graph instead of thousands of files to load).
// Packages with native addons stay external: they locate their .node binary from their
// own directory at run time. Files read next to the code at run time are copied beside
// the bundles (proto/lumos.proto); haproxy-templates/ is found as ../haproxy-templates
// from dist/, as it is from node/.
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT = `${ROOT}dist`

/** Packages that load a compiled addon (node-gyp-build) and so cannot be inlined. */
const NATIVE_PACKAGES = ['classic-level']

/** Bundled CommonJS still calls require() for Node built-ins; give ESM output one. */
const REQUIRE_SHIM = "import { createRequire as __lumosCreateRequire } from 'node:module'; const require = __lumosCreateRequire(import.meta.url);"

await rm(OUT, { recursive: true, force: true })
await mkdir(OUT, { recursive: true })
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { 'lumos-node': 'node/bin.ts', 'lumos-coordinator': 'coordinator/bin.ts' },
  outdir: OUT,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  external: NATIVE_PACKAGES,
  banner: { js: REQUIRE_SHIM },
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true
})
await copyFile(`${ROOT}proto/lumos.proto`, `${OUT}/lumos.proto`)
for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.js')) console.log(`${file}  ${Math.round(bytes / 1024)} kB`)
}
