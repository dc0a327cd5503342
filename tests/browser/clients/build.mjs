// Bundles each client page (src/<client>.js) with esbuild into dist/, and writes its HTML.
import { build } from "esbuild";
import { mkdir, writeFile } from "node:fs/promises";

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
// Each page shows what its script did, one element each, for the browser test to read.
const outputs = ["users", "order", "refusal", "csrf", "again", "done"];
for (const page of pages) {
  const elements = outputs.map((id) => `    <p id="${id}"></p>`).join("\n");
  await writeFile(
    `dist/${page}.html`,
    `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${page} · gateway client page</title>
    <link rel="icon" href="data:,">
    <script type="module" src="${page}.js"></script>
  </head>
  <body>
    <h1>${page}</h1>
${elements}
    <pre id="problem"></pre>
  </body>
</html>
`,
  );
}
