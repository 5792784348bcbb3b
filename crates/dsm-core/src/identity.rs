//! Identities: the genesis ceremony, device ids and device identities.
//!
//! A genesis digest commits to a founding public key and to entropy from several
//! contributors gathered by commit–reveal: every contributor first publishes
//! `H(EntropyCommitment, contributor, secret)`, and only after all commitments are held are
//! the secrets revealed. No single contributor (the device included) can choose the result
//! as long as one contributor is honest and commitments are collected before any reveal.

use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::crypto::PublicKey;
use crate::hash::{digest_newtype, tagged_hash, Digest};
use crate::tags::Tag;
use thiserror::Error;

digest_newtype!(
    /// A genesis digest: the root commitment of an identity.
    GenesisDigest
);
digest_newtype!(
    /// A device id: `H(DeviceId, genesis, canonical public key)`.
    DeviceId
);

/// The most contributors one genesis may have.
pub const MAX_CONTRIBUTORS: usize = 16;

/// One contributor's revealed entropy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntropyReveal {
    /// Who contributed (a node id, the device's own label, …); unique per genesis.
    pub contributor: Digest,
    /// The secret revealed after every commitment was collected.
    pub secret: [u8; 32],
}

impl EntropyReveal {
    /// The commitment this reveal must match.
    pub fn commitment(&self) -> Digest {
        tagged_hash(
            Tag::EntropyCommitment,
            &[self.contributor.as_bytes(), &self.secret],
        )
    }
}

impl Canonical for EntropyReveal {
    const MAX_ENCODED_LEN: usize = 80;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.contributor.as_bytes());
        w.bytes(2, &self.secret);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EntropyReveal {
            contributor: Digest(r.fixed(1)?),
            secret: r.fixed(2)?,
        })
    }
}

/// The contributor id of the device's own entropy: `H(EntropyContributor, "device", "")`.
pub fn device_contributor() -> Digest {
    tagged_hash(Tag::EntropyContributor, &[b"device", b""])
}

/// The contributor id of a storage node, named by its base URL:
/// `H(EntropyContributor, "storage-node", url)`.
pub fn node_contributor(url: &str) -> Digest {
    tagged_hash(Tag::EntropyContributor, &[b"storage-node", url.as_bytes()])
}

/// The id under which storage nodes keep their contribution to one genesis:
/// `H(EntropyCeremony, enc(founding key), device commitment)`. The device commits to its
/// own secret before it asks any node, and the id binds that commitment, so seeing the
/// nodes' secrets cannot let it re-choose its own without starting a new ceremony (with new
/// node secrets).
pub fn ceremony_id(founding_key: &PublicKey, device_commitment: &Digest) -> Digest {
    tagged_hash(
        Tag::EntropyCeremony,
        &[&founding_key.to_bytes(), device_commitment.as_bytes()],
    )
}

/// Everything a genesis digest commits to. Contributions are sorted by contributor, with
/// no duplicates, and there is at least one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GenesisRecord {
    /// The founding device's public key.
    pub founding_key: PublicKey,
    /// The revealed contributions, sorted by contributor.
    pub contributions: Vec<EntropyReveal>,
    /// The public key of the identity's recovery authority (derived from its mnemonic,
    /// PROTOCOL.md §20), or `None` for an identity that cannot be recovered. Only this key
    /// may sign a tombstone or a succession for a device of this genesis.
    pub recovery_authority: Option<PublicKey>,
}

impl Canonical for GenesisRecord {
    const MAX_ENCODED_LEN: usize = 8192;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.founding_key);
        w.repeated_message(2, &self.contributions);
        w.optional_message(3, self.recovery_authority.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let founding_key = r.message(1)?;
        let contributions: Vec<EntropyReveal> = r.repeated_message(2, MAX_CONTRIBUTORS)?;
        if contributions.is_empty() {
            return Err(DecodeError::Invalid(
                "a genesis needs at least one contribution",
            ));
        }
        if !contributions
            .windows(2)
            .all(|w| w[0].contributor < w[1].contributor)
        {
            return Err(DecodeError::Invalid(
                "contributions must be sorted by contributor, without duplicates",
            ));
        }
        let recovery_authority = r.optional_message(3)?;
        Ok(GenesisRecord {
            founding_key,
            contributions,
            recovery_authority,
        })
    }
}

impl GenesisRecord {
    /// `H(Genesis, canonical record)`.
    pub fn digest(&self) -> GenesisDigest {
        GenesisDigest(tagged_hash(Tag::Genesis, &[&self.to_bytes()]))
    }
}

/// Why a genesis ceremony step was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CeremonyError {
    /// The contributor already committed.
    #[error("contributor already committed")]
    DuplicateCommitment,
    /// A reveal arrived before every commitment was in (reveals are refused until
    /// [`GenesisCeremony::close_commitments`]).
    #[error("commitments are still open; reveals come after they close")]
    CommitmentsOpen,
    /// Commitments are closed; no more may join.
    #[error("commitments are closed")]
    CommitmentsClosed,
    /// The reveal names no committed contributor.
    #[error("reveal from a contributor that never committed")]
    UnknownContributor,
    /// The revealed secret does not match the commitment.
    #[error("revealed secret does not match its commitment")]
    RevealMismatch,
    /// Not every committed contributor has revealed, or nobody committed.
    #[error("{missing} contributor(s) have not revealed")]
    Incomplete {
        /// How many reveals are missing.
        missing: usize,
    },
    /// More than [`MAX_CONTRIBUTORS`].
    #[error("too many contributors")]
    TooMany,
}

/// The sans-IO commit–reveal ceremony that produces a [`GenesisRecord`].
#[derive(Debug)]
pub struct GenesisCeremony {
    founding_key: PublicKey,
    recovery_authority: Option<PublicKey>,
    commitments: Vec<(Digest, Digest)>,
    reveals: Vec<EntropyReveal>,
    closed: bool,
}

impl GenesisCeremony {
    /// Starts a ceremony for the device holding `founding_key`.
    pub fn new(founding_key: PublicKey) -> Self {
        GenesisCeremony {
            founding_key,
            recovery_authority: None,
            commitments: Vec::new(),
            reveals: Vec::new(),
            closed: false,
        }
    }

    /// Names the identity's recovery authority (PROTOCOL.md §20); the record commits to it.
    pub fn set_recovery_authority(&mut self, authority: PublicKey) {
        self.recovery_authority = Some(authority);
    }

    /// Records a contributor's commitment.
    pub fn commit(&mut self, contributor: Digest, commitment: Digest) -> Result<(), CeremonyError> {
        if self.closed {
            return Err(CeremonyError::CommitmentsClosed);
        }
        if self.commitments.iter().any(|(c, _)| *c == contributor) {
            return Err(CeremonyError::DuplicateCommitment);
        }
        if self.commitments.len() == MAX_CONTRIBUTORS {
            return Err(CeremonyError::TooMany);
        }
        self.commitments.push((contributor, commitment));
        Ok(())
    }

    /// Closes the commitment phase; reveals are accepted from now on.
    pub fn close_commitments(&mut self) {
        self.closed = true;
    }

    /// Records a reveal, checking it against the commitment.
    pub fn reveal(&mut self, reveal: EntropyReveal) -> Result<(), CeremonyError> {
        if !self.closed {
            return Err(CeremonyError::CommitmentsOpen);
        }
        let (_, c) = self
            .commitments
            .iter()
            .find(|(c, _)| *c == reveal.contributor)
            .ok_or(CeremonyError::UnknownContributor)?;
        if reveal.commitment() != *c {
            return Err(CeremonyError::RevealMismatch);
        }
        if !self
            .reveals
            .iter()
            .any(|r| r.contributor == reveal.contributor)
        {
            self.reveals.push(reveal);
        }
        Ok(())
    }

    /// The finished record, once every committed contributor has revealed.
    pub fn finish(mut self) -> Result<GenesisRecord, CeremonyError> {
        let missing = self.commitments.len() - self.reveals.len();
        if missing > 0 || self.commitments.is_empty() {
            return Err(CeremonyError::Incomplete {
                missing: missing.max(1),
            });
        }
        self.reveals.sort_by_key(|r| r.contributor);
        Ok(GenesisRecord {
            founding_key: self.founding_key,
            contributions: self.reveals,
            recovery_authority: self.recovery_authority,
        })
    }
}

/// A device's public identity: its genesis and its signing key. Its [`DeviceId`] is
/// derived, never stated, so a key cannot claim another device's id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceIdentity {
    /// The identity's genesis digest.
    pub genesis: GenesisDigest,
    /// The device's signing key.
    pub public_key: PublicKey,
}

impl DeviceIdentity {
    /// `H(DeviceId, genesis, canonical public key)`.
    ///
    /// Memoized per thread for the last few identities: a session asks for the ids of the
    /// same two or three devices dozens of times, and each answer hashes a 1,952-byte key
    /// (ML-DSA-65). The memo compares the whole identity, so it answers exactly as the hash.
    pub fn device_id(&self) -> DeviceId {
        thread_local! {
            static MEMO: std::cell::RefCell<crate::memo::Recent<DeviceIdentity, DeviceId>> =
                const { std::cell::RefCell::new(crate::memo::Recent::new()) };
        }
        MEMO.with(|m| {
            m.borrow_mut().get(
                |i| i == self,
                || self.clone(),
                || {
                    DeviceId(tagged_hash(
                        Tag::DeviceId,
                        &[self.genesis.as_bytes(), &self.public_key.to_bytes()],
                    ))
                },
            )
        })
    }
}

impl DeviceIdentity {
    /// The identity as a content-addressed object: `H(ObjectAddress, enc(identity))` (a
    /// lineage names each hop's signer by it). Memoized per thread like
    /// [`DeviceIdentity::device_id`]: every transfer stores both parties' identities.
    pub fn object_address(&self) -> Digest {
        thread_local! {
            static MEMO: std::cell::RefCell<crate::memo::Recent<DeviceIdentity, Digest>> =
                const { std::cell::RefCell::new(crate::memo::Recent::new()) };
        }
        MEMO.with(|m| {
            m.borrow_mut().get(
                |i| i == self,
                || self.clone(),
                || crate::hash::object_address(&self.to_bytes()),
            )
        })
    }
}

impl Canonical for DeviceIdentity {
    const MAX_ENCODED_LEN: usize = 4200;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.genesis.as_bytes());
        w.message(2, &self.public_key);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(DeviceIdentity {
            genesis: GenesisDigest(Digest(r.fixed(1)?)),
            public_key: r.message(2)?,
        })
    }
}
