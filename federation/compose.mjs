// Compose the subgraphs into a supergraph with @theguild/federation-composition.
//
//   node compose.mjs --out supergraph.graphql users=http://127.0.0.1:4001/graphql ...
//   node compose.mjs --out supergraph.graphql --sdl-dir schemas users=http://... ...
//
// Each subgraph's SDL is its `_service { sdl }`, or with --sdl-dir the file <dir>/<name>.graphql
// (`gateway export-schema --subgraph <name> -o <dir>/<name>.graphql`); the URL is where the
// router will send that subgraph's fetches. Errors and hints go to stderr; exit status 1 if
// the subgraphs do not compose.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

const { values, positionals } = parseArgs({
  options: { out: { type: "string" }, "sdl-dir": { type: "string" } },
  allowPositionals: true,
});
if (!values.out || positionals.length === 0) {
  console.error("usage: node compose.mjs --out FILE [--sdl-dir DIR] NAME=URL ...");
  process.exit(2);
}

async function sdlOf(name, url) {
  if (values["sdl-dir"]) {
    return readFile(join(values["sdl-dir"], `${name}.graphql`), "utf8");
  }
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = await response.json();
  if (!response.ok || body.errors) {
    throw new Error(`${name} (${url}) did not give its SDL: ${JSON.stringify(body)}`);
  }
  return body.data._service.sdl;
}

const subgraphs = await Promise.all(
  positionals.map(async (pair) => {
    const [name, url] = pair.split(/=(.*)/s);
    return { name, url, typeDefs: parse(await sdlOf(name, url)) };
  }),
);
const result = composeServices(subgraphs);
for (const hint of result.hints ?? []) {
  console.error(`hint: ${hint.message}`);
}
if (result.errors?.length) {
  for (const error of result.errors) {
    console.error(`error: ${error.message}`);
  }
  process.exit(1);
}
await writeFile(values.out, result.supergraphSdl);
console.log(`supergraph of ${subgraphs.map((s) => s.name).join(", ")}: ${values.out}`);
