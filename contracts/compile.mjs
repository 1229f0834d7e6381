// Compile contracts/src/*.sol with the pinned npm `solc` (solcjs, offline) into contracts/build/.
//   node contracts/compile.mjs            write contracts/build/<Contract>.json
//   node contracts/compile.mjs --check    compile and compare with the committed files; exit 1 if they differ
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, "src");
const buildDir = join(here, "build");

// evmVersion "paris": no PUSH0, so the bytecode also runs on permissioned chains that lag
// behind mainnet forks (Besu QBFT, geth clique, FISCO BCOS in EVM mode).
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "paris",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const sources = {};
for (const name of readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[name] = { content: readFileSync(join(srcDir, name), "utf8") };
}
const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings })));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(2);

const check = process.argv.includes("--check");
let differ = 0;
mkdirSync(buildDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // abstract contracts
    const artefact = {
      contractName: name,
      sourceName: file,
      compiler: { name: "solc", version: solc.version(), settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion } },
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artefact, null, 2) + "\n";
    const path = join(buildDir, `${name}.json`);
    if (check) {
      let old = "";
      try { old = readFileSync(path, "utf8"); } catch { /* missing */ }
      if (old !== text) { process.stderr.write(`differs: contracts/build/${name}.json\n`); differ = 1; }
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote contracts/build/${name}.json\n`);
    }
  }
}
process.exit(differ);
