// Bundles JsSIP (npm package `jssip`, CommonJS under lib/) and its three
// dependencies into one classic script that sets `window.JsSIP`, so that a
// page can load it with a <script> tag. JsSIP's npm package ships no
// prebuilt browser bundle, and a bundler would be one more dependency: this
// is the few lines of one that JsSIP needs (static `require('...')` calls,
// relative paths, `.json` files, packages' `browser` or `main` entry).
//
//   node bundle.mjs > jssip.bundle.js     (or import { bundleJsSIP })

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function resolveFile(base) {
  for (const c of [base, `${base}.js`, `${base}.json`, path.join(base, 'index.js')]) {
    if (isFile(c)) return c;
  }
  return null;
}

/** The file `spec` names when required from `fromFile`. */
function resolve(spec, fromFile) {
  if (spec.startsWith('./') || spec.startsWith('../')) {
    const f = resolveFile(path.resolve(path.dirname(fromFile), spec));
    if (f) return f;
  } else {
    // A package: the nearest node_modules/<spec> walking up, as Node does.
    for (let dir = path.dirname(fromFile); ; dir = path.dirname(dir)) {
      const pkgDir = path.join(dir, 'node_modules', spec);
      const pkgJson = path.join(pkgDir, 'package.json');
      if (isFile(pkgJson)) {
        const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8'));
        const entry = (typeof pkg.browser === 'string' && pkg.browser) || pkg.main || 'index.js';
        const f = resolveFile(path.resolve(pkgDir, entry));
        if (f) return f;
        break;
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`bundle: cannot resolve require('${spec}') from ${fromFile}`);
}

const REQUIRE = /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The bundle's source text. */
export function bundleJsSIP(root = HERE) {
  const entry = resolve('jssip', path.join(root, 'package.json'));
  const ids = new Map(); // file -> id
  const defs = [];
  const queue = [entry];
  ids.set(entry, 0);
  while (queue.length) {
    const file = queue.shift();
    const id = ids.get(file);
    const source = fs.readFileSync(file, 'utf8');
    const map = {};
    if (!file.endsWith('.json')) {
      for (const m of source.matchAll(REQUIRE)) {
        const target = resolve(m[1], file);
        if (!ids.has(target)) {
          ids.set(target, ids.size);
          queue.push(target);
        }
        map[m[1]] = ids.get(target);
      }
    }
    const body = file.endsWith('.json') ? `module.exports = ${source.trim()};` : source;
    defs[id] =
      `// ${path.relative(root, file)}\n` +
      `[function (module, exports, require) {\n${body}\n}, ${JSON.stringify(map)}]`;
  }
  return (
    `/* JsSIP bundled by tests/browser/bundle.mjs from node_modules. */\n` +
    `(function () {\n` +
    `var defs = [\n${defs.join(',\n')}\n];\n` +
    `var cache = [];\n` +
    `function load(id) {\n` +
    `  if (cache[id]) return cache[id].exports;\n` +
    `  var module = (cache[id] = { exports: {} });\n` +
    `  defs[id][0].call(module.exports, module, module.exports, function (spec) {\n` +
    `    if (!(spec in defs[id][1])) throw new Error('bundle: no module ' + spec);\n` +
    `    return load(defs[id][1][spec]);\n` +
    `  });\n` +
    `  return module.exports;\n` +
    `}\n` +
    `window.JsSIP = load(0);\n` +
    `})();\n`
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(bundleJsSIP());
}
