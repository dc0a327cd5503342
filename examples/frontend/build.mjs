// Bundle src/main.ts with esbuild into dist/, next to the files in public/.
// GATEWAY_URL (default /graphql, the same origin) is the endpoint baked into the bundle;
// the page's ?endpoint= parameter overrides it.
import { cpSync, rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
cpSync("public", "dist", { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: "es2020",
  outfile: "dist/app.js",
  define: { GATEWAY_URL: JSON.stringify(process.env.GATEWAY_URL ?? "/graphql") },
  logLevel: "warning",
});
