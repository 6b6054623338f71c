// Sign a credential the way third-party issuers do, with libraries nobody here wrote, so the
// verifier is tested on their output. stdin: {"form": ..., "credential": {...}}; the issuer is set
// to the signing key's identity unless "keepIssuer" is true. Prints {"credential": signed} or
// {"jwt": compact}. Forms:
//   Ed25519Signature2020   @digitalbazaar/ed25519-signature-2020 (the DCC stack), did:key
//   ecdsa-rdfc-2019        @digitalbazaar/data-integrity + ecdsa-rdfc-2019-cryptosuite, P-256 did:key
//                          ("curve": "P-384" for a P-384 did:key)
//   ecdsa-sd-2023          @digitalbazaar/ecdsa-sd-2023-cryptosuite, P-256 did:key: a base proof with
//                          "mandatoryPointers", and the disclosure derived from it with "selectivePointers"
//                          (prints {"credential": base, "derived": derived})
//   eddsa-rdfc-2022        @digitalbazaar/data-integrity + eddsa-rdfc-2022-cryptosuite, Ed25519 Multikey
//   eddsa-2022             the same with @digitalbazaar/eddsa-2022-cryptosuite 1.0.0, the suite's name
//                          before W3C renamed it eddsa-rdfc-2022 (what older issuers wrote)
//                          For both: "controller": an https URL names the key `${controller}#${multikey}`
//                          instead of a did:key; "signNested": true signs each credentialSubject
//                          .verifiableCredential entry (a CLR's) with the same key first;
//                          "untypedCryptosuite": true signs under the VC 2.0 context as it was in
//                          2022-23, `cryptosuite` a plain string term (since typed cryptosuiteString)
//   jwt-jwk                panva/jose, EdDSA, the public key in the JOSE "jwk" header, no kid
//   jwt-did-jwk            panva/jose, ES256, kid did:jwk:...#0
import * as vc from '@digitalbazaar/vc';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as ecdsaRdfc2019Cryptosuite} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {cryptosuite as eddsa2022Cryptosuite} from '@digitalbazaar/eddsa-2022-cryptosuite';
import {cryptosuite as eddsaRdfc2022Cryptosuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as ecdsaSd2023Cryptosuite from '@digitalbazaar/ecdsa-sd-2023-cryptosuite';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {Ed25519VerificationKey2020} from '@digitalbazaar/ed25519-verification-key-2020';
import {SignJWT, exportJWK, generateKeyPair} from 'jose';
import {documentLoader, readStdin} from './static-loader.mjs';

const ED25519_2020_CONTEXT = 'https://w3id.org/security/suites/ed25519-2020/v1';
const {
  form, credential, keepIssuer, curve = 'P-256', mandatoryPointers = [], selectivePointers = [], controller,
  signNested, untypedCryptosuite
} = JSON.parse(await readStdin());
const VC_V2_CONTEXT = 'https://www.w3.org/ns/credentials/v2';

function withoutCryptosuiteType(node) {
  if(Array.isArray(node)) {
    return node.map(withoutCryptosuiteType);
  }
  if(node === null || typeof node !== 'object') {
    return node;
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) =>
    [key, key === 'cryptosuite' && value['@id'] ? value['@id'] : withoutCryptosuiteType(value)]));
}

async function signingLoader(url) {
  const loaded = await documentLoader(url);
  if(untypedCryptosuite && url === VC_V2_CONTEXT) {
    return {...loaded, document: withoutCryptosuiteType(loaded.document)};
  }
  return loaded;
}

function withIssuer(id, unsigned = credential) {
  if(keepIssuer) {
    return unsigned;
  }
  const issuer = typeof unsigned.issuer === 'object' ? {...unsigned.issuer, id} : id;
  return {...unsigned, issuer};
}

async function eddsa(cryptosuite) {
  const keyPair = await Ed25519Multikey.generate();
  keyPair.controller = controller ?? `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.id = `${keyPair.controller}#${keyPair.publicKeyMultibase}`;
  const suite = () => new DataIntegrityProof({signer: keyPair.signer(), cryptosuite});
  const unsigned = withIssuer(keyPair.controller);
  const subject = unsigned.credentialSubject;
  if(signNested && Array.isArray(subject?.verifiableCredential)) {
    const held = [];
    for(const entry of subject.verifiableCredential) {
      const heldCredential = withIssuer(keyPair.controller, entry);
      held.push(await vc.issue({credential: heldCredential, suite: suite(), documentLoader: signingLoader}));
    }
    unsigned.credentialSubject = {...subject, verifiableCredential: held};
  }
  return {credential: await vc.issue({credential: unsigned, suite: suite(), documentLoader: signingLoader})};
}

async function dataIntegrity(keyPair, suite, extraContext) {
  const unsigned = withIssuer(keyPair.controller);
  if(extraContext && !unsigned['@context'].includes(extraContext)) {
    unsigned['@context'] = [...unsigned['@context'], extraContext];
  }
  return {credential: await vc.issue({credential: unsigned, suite, documentLoader})};
}

async function ecdsaKeyPair(curveName) {
  const keyPair = await EcdsaMultikey.generate({curve: curveName});
  keyPair.controller = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.id = `${keyPair.controller}#${keyPair.publicKeyMultibase}`;
  return keyPair;
}

async function jwt(alg, kidFor) {
  const {publicKey, privateKey} = await generateKeyPair(alg, {extractable: true});
  const jwk = await exportJWK(publicKey);
  const header = {alg, typ: 'vc+jwt'};
  let issuer = null;
  if(kidFor === 'did:jwk') {
    const did = 'did:jwk:' + Buffer.from(JSON.stringify(jwk)).toString('base64url');
    header.kid = `${did}#0`;
    issuer = did;
  } else {
    header.jwk = jwk;
  }
  const payload = issuer ? withIssuer(issuer) : credential;
  return {jwt: await new SignJWT(payload).setProtectedHeader(header).sign(privateKey)};
}

let output;
if(form === 'Ed25519Signature2020') {
  const keyPair = await Ed25519VerificationKey2020.generate();
  keyPair.controller = `did:key:${keyPair.fingerprint()}`;
  keyPair.id = `${keyPair.controller}#${keyPair.fingerprint()}`;
  output = await dataIntegrity(keyPair, new Ed25519Signature2020({key: keyPair}), ED25519_2020_CONTEXT);
} else if(form === 'ecdsa-rdfc-2019') {
  const keyPair = await ecdsaKeyPair(curve);
  const suite = new DataIntegrityProof({signer: keyPair.signer(), cryptosuite: ecdsaRdfc2019Cryptosuite});
  output = await dataIntegrity(keyPair, suite, null);
} else if(form === 'ecdsa-sd-2023') {
  const keyPair = await ecdsaKeyPair('P-256');
  const cryptosuite = ecdsaSd2023Cryptosuite.createSignCryptosuite({mandatoryPointers});
  const base = await dataIntegrity(keyPair, new DataIntegrityProof({signer: keyPair.signer(), cryptosuite}), null);
  const disclose = ecdsaSd2023Cryptosuite.createDiscloseCryptosuite({selectivePointers});
  const derived = await vc.derive({
    verifiableCredential: base.credential,
    suite: new DataIntegrityProof({cryptosuite: disclose}),
    documentLoader
  });
  output = {...base, derived};
} else if(form === 'eddsa-rdfc-2022') {
  output = await eddsa(eddsaRdfc2022Cryptosuite);
} else if(form === 'eddsa-2022') {
  output = await eddsa(eddsa2022Cryptosuite);
} else if(form === 'jwt-jwk') {
  output = await jwt('EdDSA', null);
} else if(form === 'jwt-did-jwk') {
  output = await jwt('ES256', 'did:jwk');
} else {
  throw new Error(`unknown form ${form}`);
}
process.stdout.write(JSON.stringify(output) + '\n');
