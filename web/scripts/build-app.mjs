// Builds the web app into dist-app/: index.html, app.js (one bundle) and app.css, which the node embeds
// and serves at `/`. The output is deterministic (same sources, same esbuild: same bytes), so CI can
// check that the committed files are a fresh build. No source maps: they would embed absolute paths.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(web, "dist-app");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  absWorkingDir: web,
  entryPoints: ["src/app/main.ts"],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome111", "firefox111", "safari16.4"],
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
});
await copyFile(join(web, "app", "index.html"), join(out, "index.html"));
await copyFile(join(web, "app", "app.css"), join(out, "app.css"));
console.log("built dist-app/: index.html, app.js, app.css");
