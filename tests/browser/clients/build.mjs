// Bundles each client page (src/<client>.js) with esbuild into dist/, beside its HTML.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

const pages = ["apollo", "urql"];
await mkdir("dist", { recursive: true });
await build({
  entryPoints: pages.map((page) => `src/${page}.js`),
  bundle: true,
  format: "esm",
  target: "es2022",
  outdir: "dist",
  logLevel: "warning",
});
for (const page of pages) await copyFile(`src/${page}.html`, `dist/${page}.html`);
