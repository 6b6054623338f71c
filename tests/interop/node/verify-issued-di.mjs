// Verify an issued Data Integrity credential AND its Bitstring Status List entry with
// Digital Bazaar's stack, offline. stdin: {"credential": {...}, "statusLists": {url: list}}:
// the status list credentials are handed in (never fetched); each is itself verified as a
// credential before its bit is read. Prints {"verified": bool, "error": string|null}.
import {gunzipSync} from 'node:zlib';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {documentLoader, readStdin} from './static-loader.mjs';

const {credential, statusLists} = JSON.parse(await readStdin());
const suite = () => new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});

function describe(error) {
  const errors = Array.isArray(error) ? error : (error.errors || [error]);
  return errors.map(e => e.message || String(e)).join('; ');
}

const idOf = issuer => (typeof issuer === 'object' ? issuer.id : issuer);

// W3C Bitstring Status List v1.0 §3.2: multibase base64url (u), GZIP, bit 0 is the most
// significant bit of the first byte.
async function checkStatus({credential: held}) {
  const entries = [].concat(held.credentialStatus);
  for(const entry of entries) {
    const list = statusLists[entry.statusListCredential];
    if(!list) {
      return {verified: false, error: new Error(`status list ${entry.statusListCredential} not provided`)};
    }
    const listResult = await vc.verifyCredential({credential: list, suite: suite(), documentLoader});
    if(!listResult.verified) {
      return {verified: false, error: new Error('the status list credential does not verify')};
    }
    const subject = list.credentialSubject;
    if(subject.statusPurpose !== entry.statusPurpose || idOf(list.issuer) !== idOf(held.issuer)) {
      return {verified: false, error: new Error('the status list does not match the entry or the issuer')};
    }
    const bits = gunzipSync(Buffer.from(subject.encodedList.slice(1), 'base64url'));
    const index = Number(entry.statusListIndex);
    if(bits[index >> 3] & (0x80 >> (index & 7))) {
      return {verified: false, error: new Error(`${entry.statusPurpose}: status bit ${index} is set`)};
    }
  }
  return {verified: true};
}

let output;
try {
  const result = await vc.verifyCredential({credential, suite: suite(), documentLoader, checkStatus});
  const error = result.verified ? null :
    describe(result.error || (result.statusResult || {}).error ||
      (result.results || []).map(r => r.error).filter(Boolean));
  output = {verified: result.verified, error};
} catch(e) {
  output = {verified: false, error: describe(e)};
}
process.stdout.write(JSON.stringify(output) + '\n');
