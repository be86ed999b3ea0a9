/**
 * X3DH (Signal's revision 1) with Ed25519 identity keys used for agreement in their X25519 form, as
 * `protocol/src/crypto/x3dh.rs`:
 *
 * ```text
 * DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)   DH4 = DH(EK_A, OPK_B)
 * SK  = HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
 *                   info = "Parley X3DH", 32 bytes)
 * AD  = IK_A || IK_B     (the 32-byte Ed25519 public keys, initiator first)
 * ```
 */

import type { KeyBundle } from "./bundle.js";
import { concatBytes } from "./bytes.js";
import { type DhKeyPair, agree } from "./dh.js";
import { utf8 } from "./encoding.js";
import { CryptoError } from "./error.js";
import type { PreKeyInfo } from "./header.js";
import { type IdentityKeyPair, agreementKey } from "./identity.js";
import { hkdfSha256 } from "./kdf.js";
import { verifySignedPreKey } from "./keys.js";
import type { OneTimePreKeyPair, SignedPreKeyPair } from "./prekey.js";

const INFO = utf8("Parley X3DH");
/** X3DH's `F`: 32 0xFF bytes, so the KDF input can never be mistaken for an XEdDSA scalar's. */
const F = new Uint8Array(32).fill(0xff);

/** `AD = IK_A || IK_B`: binds every message of the session to both identities. */
export function associatedData(initiator: Uint8Array, responder: Uint8Array): Uint8Array {
  return concatBytes(initiator, responder);
}

/** The initiator's result. */
export interface Initiation {
  readonly sharedSecret: Uint8Array;
  /** The fields its messages carry until it hears back. */
  readonly prekey: PreKeyInfo;
  /** The responder's signed prekey, which is also the responder's first ratchet key. */
  readonly responderRatchetKey: Uint8Array;
}

/**
 * The initiator's side, from the responder's bundle and a fresh ephemeral key `EK_A`. The signature
 * is checked first: a bundle forged by the node (or anyone in between) is refused before any secret
 * is derived from it.
 */
export function initiate(identity: IdentityKeyPair, bundle: KeyBundle, ephemeral: DhKeyPair): Initiation {
  const { signedPreKey, oneTimePreKey } = bundle;
  verifySignedPreKey(bundle.identityKey, signedPreKey.publicKey, signedPreKey.signature);
  const theirIdentity = agreementKey(bundle.identityKey);
  const secrets = [
    identity.agree(signedPreKey.publicKey),
    agree(ephemeral.secret, theirIdentity),
    agree(ephemeral.secret, signedPreKey.publicKey),
  ];
  if (oneTimePreKey !== undefined) secrets.push(agree(ephemeral.secret, oneTimePreKey.publicKey));
  return {
    sharedSecret: derive(secrets),
    prekey: {
      identityKey: identity.publicKey,
      baseKey: ephemeral.publicKey,
      signedPreKeyId: signedPreKey.keyId,
      oneTimePreKeyId: oneTimePreKey?.keyId,
    },
    responderRatchetKey: signedPreKey.publicKey,
  };
}

/** The responder's side: `SK` from an initial message's X3DH fields and the prekeys they name. */
export function respond(
  identity: IdentityKeyPair,
  signedPreKey: SignedPreKeyPair,
  oneTimePreKey: OneTimePreKeyPair | undefined,
  prekey: PreKeyInfo,
): Uint8Array {
  if (prekey.signedPreKeyId !== signedPreKey.id) {
    throw new CryptoError({ kind: "SignedPreKeyMismatch", expected: prekey.signedPreKeyId, supplied: signedPreKey.id });
  }
  if (prekey.oneTimePreKeyId !== oneTimePreKey?.id) {
    throw new CryptoError({
      kind: "OneTimePreKeyMismatch",
      expected: prekey.oneTimePreKeyId,
      supplied: oneTimePreKey?.id,
    });
  }
  const theirIdentity = agreementKey(prekey.identityKey);
  const secrets = [
    agree(signedPreKey.keyPair.secret, theirIdentity),
    identity.agree(prekey.baseKey),
    agree(signedPreKey.keyPair.secret, prekey.baseKey),
  ];
  if (oneTimePreKey !== undefined) secrets.push(agree(oneTimePreKey.keyPair.secret, prekey.baseKey));
  return derive(secrets);
}

/** `SK = KDF(F || DH1 || DH2 || DH3 [|| DH4])`. */
function derive(secrets: readonly Uint8Array[]): Uint8Array {
  return hkdfSha256(undefined, concatBytes(F, ...secrets), INFO, 32);
}
