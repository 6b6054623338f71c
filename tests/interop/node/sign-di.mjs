// Benchmark baseline: issue the credential read from stdin N times in-process with
// @digitalbazaar/vc + eddsa-rdfc-2022 (did:key signer), after warm-up.
// Usage: node sign-di.mjs N [WARMUP] < credential.json -> {"count", "seconds", "per_second"}
// With stdin {"emit": true, "credential": {...}}: issue once, print {"credential": signed}
// (the interop tests verify Digital Bazaar's output with our library).
import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {documentLoader, readStdin} from './static-loader.mjs';

const count = Number(process.argv[2] || 200);
const warmup = Number(process.argv[3] || 50);
const input = JSON.parse(await readStdin());
const emit = input.emit === true;
const template = emit ? input.credential : input;
const keyPair = await Ed25519Multikey.generate();
keyPair.controller = `did:key:${keyPair.publicKeyMultibase}`;
keyPair.id = `${keyPair.controller}#${keyPair.publicKeyMultibase}`;
template.issuer = typeof template.issuer === 'object' ?
  {...template.issuer, id: keyPair.controller} : keyPair.controller;
const signer = keyPair.signer();

async function issueOnce() {
  const suite = new DataIntegrityProof({signer, cryptosuite: eddsaRdfc2022CryptoSuite});
  const credential = structuredClone(template);
  return vc.issue({credential, suite, documentLoader});
}

if(emit) {
  process.stdout.write(JSON.stringify({credential: await issueOnce()}) + '\n');
  process.exit(0);
}

for(let i = 0; i < warmup; ++i) {
  await issueOnce();
}
const start = process.hrtime.bigint();
for(let i = 0; i < count; ++i) {
  await issueOnce();
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
process.stdout.write(JSON.stringify({count, seconds, per_second: count / seconds}) + '\n');
