// Verify a Data Integrity (eddsa-rdfc-2022) credential read from stdin with Digital
// Bazaar's stack, offline. Prints {"verified": bool, "error": string|null}.
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {documentLoader, readStdin} from './static-loader.mjs';

function describe(error) {
  if(!error) {
    return null;
  }
  const errors = Array.isArray(error) ? error : (error.errors || [error]);
  return errors.map(e => e.message || String(e)).join('; ');
}

const credential = JSON.parse(await readStdin());
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
let output;
try {
  const result = await vc.verifyCredential({credential, suite, documentLoader});
  const error = result.verified ? null :
    describe(result.error || (result.results || []).map(r => r.error).filter(Boolean));
  output = {verified: result.verified, error};
} catch(e) {
  output = {verified: false, error: describe(e)};
}
process.stdout.write(JSON.stringify(output) + '\n');
