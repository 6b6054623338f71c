// Verify a VC-JWT with panva/jose. stdin: {"jwt": "...", "jwk": {...}}. The algorithm
// is pinned to the JWK's own "alg". Prints {"verified", "payload", "header", "error"}.
import {importJWK, jwtVerify} from 'jose';
import {readStdin} from './static-loader.mjs';

const {jwt, jwk} = JSON.parse(await readStdin());
let output;
try {
  const key = await importJWK(jwk, jwk.alg);
  const {payload, protectedHeader} = await jwtVerify(jwt, key, {algorithms: [jwk.alg]});
  output = {verified: true, payload, header: protectedHeader, error: null};
} catch(e) {
  output = {verified: false, payload: null, header: null, error: `${e.code || e.name}: ${e.message}`};
}
process.stdout.write(JSON.stringify(output) + '\n');
