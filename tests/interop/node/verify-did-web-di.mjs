// Verify an issued Data Integrity credential of a did:web issuer with Digital Bazaar's stack,
// offline. stdin: {"credential": {...}, "statusLists": {url: list}, "documents": {url: doc}}:
// "documents" holds what a did:web resolver would have fetched (the DID document, keyed by the
// DID, as served at the did:web spec's URL); each verification method is dereferenced from it by
// its fragment, and the controller check then finds it in assertionMethod. Nothing is fetched.
// Prints {"verified": bool, "error": string|null}.
import {gunzipSync} from 'node:zlib';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {documentLoader as staticLoader, readStdin} from './static-loader.mjs';

const {credential, statusLists, documents} = JSON.parse(await readStdin());
const suite = () => new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});

async function documentLoader(url) {
  const [did, fragment] = url.split('#');
  const didDocument = documents[did];
  if(!didDocument) {
    return staticLoader(url);
  }
  if(!fragment) {
    return {contextUrl: null, documentUrl: url, document: didDocument};
  }
  const method = didDocument.verificationMethod.find(entry => entry.id === url);
  if(!method) {
    throw new Error(`${url} is not in the DID document of ${did}`);
  }
  const document = {'@context': didDocument['@context'], ...method};
  return {contextUrl: null, documentUrl: url, document};
}

function describe(error) {
  const errors = Array.isArray(error) ? error : (error.errors || [error]);
  return errors.map(e => e.message || String(e)).join('; ');
}

const idOf = issuer => (typeof issuer === 'object' ? issuer.id : issuer);

async function checkStatus({credential: held}) {
  for(const entry of [].concat(held.credentialStatus)) {
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
