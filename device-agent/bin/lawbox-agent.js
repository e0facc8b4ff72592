#!/usr/bin/env node
import { main } from '../dist/main.js';

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`lawbox-agent: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
