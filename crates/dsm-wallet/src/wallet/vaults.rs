//! The wallet's vaults (DLV, PROTOCOL.md §18): locking value into a vault, importing one,
//! building a witness for a branch from what this device knows, and resolving it — each
//! state change one batch, after `TokenRules` accepted its source proof.

use super::{EntryKind, Wallet, WalletError};
use crate::store::{Batch, Table};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceIdentity;
use dsm_core::receipt::Receipt;
use dsm_token::authority::cosign;
use dsm_token::source::{lock_cause, Source, SourceProof, TokenRules};
use dsm_token::vault::{
    authorization, iterate, sign_lock, Branch, Condition, SignedVaultLock, VaultConflict,
    VaultDocument, VaultPolicy, VaultResolution, Witness,
};
use sha2::Digest as _;

/// What a resolution seen elsewhere told this wallet about its vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaultSeen {
    /// It is the vault's only resolution seen (or the same one again).
    Consistent(Digest),
    /// It differs from one seen before: the vault's value is refused from now on.
    Conflict(Digest),
}

/// Where a vault stands, as this device knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultStatus {
    /// No resolution known.
    Locked,
    /// Resolved by this branch.
    Resolved(Branch),
    /// Two different resolutions are known: its value is refused.
    Conflict,
}

/// A vault this device created or imported.
#[derive(Clone, Debug)]
pub struct VaultInfo {
    /// The vault id.
    pub id: Digest,
    /// The creator's signed lock (with the policy).
    pub lock: SignedVaultLock,
    /// What this device knows of its resolution.
    pub status: VaultStatus,
}

/// What this device can offer towards a witness, beyond its own key and receipts.
#[derive(Clone, Debug, Default)]
pub struct WitnessMaterial {
    /// Candidate hash preimages.
    pub preimages: Vec<Vec<u8>>,
    /// Iteration budgets up to this many iterations may be computed (0: none).
    pub max_work: u64,
    /// Candidate Bitcoin payment evidence.
    pub bitcoin: Vec<dsm_btc::InclusionEvidence>,
}

fn usage(msg: impl Into<String>) -> WalletError {
    WalletError::Token(msg.into())
}

impl Wallet {
    /// Locks `amount` of `token` into a new vault for `beneficiary` (its identity: the lock
    /// names its id and its slot owner, PROTOCOL.md §18.1): the BURN head (source
    /// = the policy, its parcels consumed to the sink by a signed statement) is committed,
    /// then the signed lock. Returns the vault document to hand to the beneficiary: the
    /// lock, the statement and the consumed parcels' lineages (PROTOCOL.md §18.2).
    pub fn create_vault(
        &mut self,
        token: TokenId,
        amount: Amount,
        beneficiary: &DeviceIdentity,
        release: Condition,
        refund: Condition,
    ) -> Result<VaultDocument, WalletError> {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|e| WalletError::Random(e.to_string()))?;
        let policy = VaultPolicy {
            creator: self.identity.clone(),
            creator_parent_head: self.head.digest(),
            token,
            amount,
            beneficiary: beneficiary.device_id(),
            beneficiary_slots: dsm_core::slot::device_slots_owner(beneficiary),
            release,
            refund,
            salt: Digest(salt),
        };
        policy.validate().map_err(|e| usage(e.to_string()))?;
        let proof = SourceProof {
            source: Source::VaultLock(Box::new(policy.clone())),
            allowlist: None,
            consumption: None,
        };
        self.apply_source(proof, amount, EntryKind::VaultLocked)?;
        let rnd = self.random_bytes();
        let lock = sign_lock(policy, self.head.clone(), &self.key, &rnd)
            .map_err(|e| usage(e.to_string()))?;
        let mut b = Batch::new();
        b.put(
            Table::Vaults,
            lock.policy.vault_id().as_bytes().to_vec(),
            lock.to_bytes(),
        );
        self.store.commit(&b)?;
        self.vault_document(&lock)
    }

    /// The statement a vault's lock consumed parcels by, with their manifests, as this
    /// wallet keeps it (made here, or imported with the vault's document).
    pub fn vault_backing(
        &self,
        lock: &SignedVaultLock,
    ) -> Result<dsm_token::source::ConsumedParcels, WalletError> {
        self.consumed_parcels(&lock_cause(&lock.policy))?
            .ok_or_else(|| {
                usage(format!(
                    "this wallet does not hold the lineages of what vault {}'s lock consumed: import its vault document (`dsm vault import FILE`)",
                    &lock.policy.vault_id().to_hex()[..16]
                ))
            })
    }

    /// The document of a vault this device created or imported: the lock, the statement
    /// its lock consumed parcels by, and those parcels' lineages.
    pub fn vault_document(&self, lock: &SignedVaultLock) -> Result<VaultDocument, WalletError> {
        let backing = self
            .consumed_parcels(&lock_cause(&lock.policy))?
            .ok_or_else(|| {
                usage("this wallet does not hold the parcels this vault's lock consumed")
            })?;
        let objects = self.listed_objects(&backing.manifests)?;
        let slot_write = self.consumption_write(&backing)?;
        Ok(VaultDocument {
            lock: lock.clone(),
            backing,
            objects,
            slot_write,
        })
    }

    /// Imports a vault made by another device. Checked first as every later holder of its
    /// value will check it: the lock verifies, its statement is the creator's for this
    /// lock, and the parcels it consumed have valid lineages, are of the vault's token and
    /// add up (to the sink) to the vault's amount, and none is known spent elsewhere (a
    /// parcel fork found is recorded). Returns its id.
    pub fn import_vault(&mut self, doc: VaultDocument) -> Result<Digest, WalletError> {
        let lock = &doc.lock;
        let id = dsm_token::vault::verify_lock(lock, &lock_cause(&lock.policy))
            .map_err(|e| usage(e.to_string()))?;
        if lock.policy.beneficiary == self.id
            && lock.policy.beneficiary_slots != dsm_core::slot::device_slots_owner(&self.identity)
        {
            return Err(usage(format!(
                "vault {} names this device as its beneficiary under another slot owner, so \
                 the storage nodes would refuse its claim: ask its creator for a new lock",
                &id.to_hex()[..16]
            )));
        }
        let burn = dsm_token::source::lock_statement(&lock.policy, &doc.backing.consumption)?;
        let objects: std::collections::HashMap<Digest, Vec<u8>> = doc
            .objects
            .iter()
            .map(|o| (dsm_core::hash::object_address(o), o.clone()))
            .collect();
        self.check_continued(
            &burn,
            &doc.backing,
            &lock.policy.token,
            lock.policy.amount,
            &objects,
        )
        .map_err(|e| usage(format!("vault {} is refused: {e}", &id.to_hex()[..16])))?;
        let mut b = Batch::new();
        b.put(Table::Vaults, id.as_bytes().to_vec(), lock.to_bytes());
        self.keep_consumed(&mut b, &doc.backing, &lock_cause(&lock.policy), &objects)?;
        self.keep_carried_write(&mut b, &doc.backing, doc.slot_write.as_ref());
        self.store.commit(&b)?;
        Ok(id)
    }

    /// Every vault this device holds, with its status.
    pub fn vaults(&self) -> Result<Vec<VaultInfo>, WalletError> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan(Table::Vaults)? {
            let lock = SignedVaultLock::from_bytes(&v).map_err(super::corrupt("vault"))?;
            let id = Digest(k.as_slice().try_into().map_err(|_| WalletError::Corrupt {
                what: "vault",
                error: "bad key".into(),
            })?);
            let status = if self.rules.is_conflicted(&id) {
                VaultStatus::Conflict
            } else {
                match self.store.get(Table::VaultResolutions, id.as_bytes())? {
                    Some(b) => VaultStatus::Resolved(
                        VaultResolution::from_bytes(&b)
                            .map_err(super::corrupt("vault resolution"))?
                            .branch,
                    ),
                    None => VaultStatus::Locked,
                }
            };
            out.push(VaultInfo { id, lock, status });
        }
        Ok(out)
    }

    /// The vault whose id starts with `prefix` (hex, at least 8 digits).
    pub fn find_vault(&self, prefix: &str) -> Result<VaultInfo, WalletError> {
        let p = prefix.to_ascii_lowercase();
        let hits: Vec<VaultInfo> = self
            .vaults()?
            .into_iter()
            .filter(|v| p.len() >= 8 && v.id.to_hex().starts_with(&p))
            .collect();
        match hits.len() {
            1 => Ok(hits.into_iter().next().expect("one")),
            0 => Err(usage(format!("no vault {prefix:?} here (give 8+ hex digits of its id; `dsm vault list`, or import it first)"))),
            n => Err(usage(format!("{n} vaults start with {prefix:?}; give more digits"))),
        }
    }

    /// Builds a witness that `branch` of the vault holds, from this device's key, its
    /// receipts and `material`.
    pub fn build_witness(
        &self,
        lock: &SignedVaultLock,
        branch: Branch,
        material: &WitnessMaterial,
    ) -> Result<Witness, WalletError> {
        let id = lock.policy.vault_id();
        self.witness_for(lock.policy.condition(branch), &id, branch, material)
    }

    fn witness_for(
        &self,
        cond: &Condition,
        id: &Digest,
        branch: Branch,
        m: &WitnessMaterial,
    ) -> Result<Witness, WalletError> {
        Ok(match cond {
            Condition::Signatures { threshold, keys } => {
                let Some(i) = keys.iter().position(|k| k == self.key.public_key()) else {
                    return Err(usage("this condition needs signatures of other keys; this device's key is not among them"));
                };
                if *threshold > 1 {
                    return Err(usage(format!(
                        "this condition needs {threshold} signatures and this device can give one; collect the others with the library (dsm_token::vault::authorization + dsm_token::authority::cosign)"
                    )));
                }
                let mut rnd = [0u8; 32];
                getrandom::fill(&mut rnd).map_err(|e| WalletError::Random(e.to_string()))?;
                Witness::Signatures(vec![cosign(&self.key, i as u32, &authorization(id, branch), &rnd)?])
            }
            Condition::Sha256(h) => Witness::Preimage(
                m.preimages
                    .iter()
                    .find(|p| sha2::Sha256::digest(p).as_slice() == h)
                    .cloned()
                    .ok_or_else(|| usage("no given preimage has the condition's SHA-256 (pass it with --preimage)"))?,
            ),
            Condition::Blake3(h) => Witness::Preimage(
                m.preimages
                    .iter()
                    .find(|p| blake3::hash(p).as_bytes() == h)
                    .cloned()
                    .ok_or_else(|| usage("no given preimage has the condition's BLAKE3 hash (pass it with --preimage)"))?,
            ),
            Condition::Receipt(commit) => {
                let bytes = self
                    .store
                    .get(Table::Receipts, commit.as_bytes())?
                    .ok_or_else(|| usage(format!("this wallet holds no receipt of transfer {commit} yet")))?;
                Witness::Receipt(Box::new(Receipt::from_bytes(&bytes).map_err(super::corrupt("receipt"))?))
            }
            Condition::Iterations(n) => {
                if *n > m.max_work {
                    return Err(usage(format!("this branch needs {n} iterations of work; allow them with --work")));
                }
                Witness::Work(iterate(id, branch, *n))
            }
            Condition::Bitcoin(_) => {
                let found = m.bitcoin.iter().find(|e| {
                    dsm_token::vault::check_condition(cond, &Witness::Bitcoin(Box::new((*e).clone())), id, branch).is_ok()
                });
                Witness::Bitcoin(Box::new(
                    found
                        .cloned()
                        .ok_or_else(|| usage("no given Bitcoin payment evidence satisfies the condition"))?,
                ))
            }
            Condition::All(cs) => Witness::All(
                cs.iter()
                    .map(|c| self.witness_for(c, id, branch, m))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Any(cs) => {
                let mut last = None;
                for (i, c) in cs.iter().enumerate() {
                    match self.witness_for(c, id, branch, m) {
                        Ok(w) => return Ok(Witness::Any(i as u32, Box::new(w))),
                        Err(e) => last = Some(e),
                    }
                }
                return Err(last.unwrap_or_else(|| usage("empty any-condition")));
            }
        })
    }

    /// Applies a resolution that credits this device (checked by `TokenRules`, including
    /// conflicts with any resolution seen before), stores it, and records the history line.
    pub fn resolve_vault(&mut self, r: VaultResolution) -> Result<Amount, WalletError> {
        let amount = r.lock.policy.amount;
        let kind = match r.branch {
            Branch::Release => EntryKind::VaultClaimed,
            Branch::Refund => EntryKind::VaultRefunded,
        };
        let id = r.lock.policy.vault_id();
        let bytes = r.to_bytes();
        let consumption = self
            .consumed_parcels(&lock_cause(&r.lock.policy))?
            .ok_or_else(|| {
                usage(format!(
                    "this wallet does not hold the lineages of what vault {}'s lock consumed: import its vault document (`dsm vault import FILE`)",
                    &id.to_hex()[..16]
                ))
            })?
            .consumption;
        let proof = SourceProof {
            source: Source::VaultResolve(Box::new(r)),
            allowlist: None,
            consumption: Some(consumption),
        };
        // The resolution is stored in the head's own batch: a crash leaves both or neither.
        let mut b = Batch::new();
        b.put(Table::VaultResolutions, id.as_bytes().to_vec(), bytes)
            .delete(Table::Meta, pending_key(&id));
        self.apply_source_with(proof, amount, kind, b)?;
        Ok(amount)
    }

    /// Records a resolution seen elsewhere (e.g. at the storage nodes): a different one than
    /// seen before makes the vault conflicted (and keeps the proof). A resolution that does
    /// not verify, or a store failure, is an error — never silently ignored.
    pub fn observe_vault_resolution(
        &mut self,
        r: &VaultResolution,
    ) -> Result<VaultSeen, WalletError> {
        let id = TokenRules::check_resolution(r)?;
        let stored = self.store.get(Table::VaultResolutions, id.as_bytes())?;
        let result = self.rules.observe_resolution(r);
        let mut b = Batch::new();
        match &stored {
            None => {
                b.put(
                    Table::VaultResolutions,
                    id.as_bytes().to_vec(),
                    r.to_bytes(),
                );
            }
            Some(first) if *first != r.to_bytes() => {
                // Keep the proof, so the conflict survives a restart and can be shown.
                let a = VaultResolution::from_bytes(first)
                    .map_err(super::corrupt("vault resolution"))?;
                let proof = VaultConflict { a, b: r.clone() };
                b.put(Table::Meta, conflict_key(&id), proof.to_bytes());
            }
            Some(_) => {}
        }
        self.store.commit(&b)?;
        match result {
            Ok(_) => Ok(VaultSeen::Consistent(id)),
            Err(dsm_token::source::TokenError::VaultConflict(id)) => Ok(VaultSeen::Conflict(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// The conflict proof this wallet holds for vault `id`, if it was resolved twice.
    pub fn vault_conflict(&self, id: &Digest) -> Result<Option<VaultConflict>, WalletError> {
        match self.store.get(Table::Meta, &conflict_key(id))? {
            Some(b) => Ok(Some(
                VaultConflict::from_bytes(&b).map_err(super::corrupt("vault conflict"))?,
            )),
            None => Ok(None),
        }
    }

    /// A resolution this device built but has not applied yet (its anchor did not reach a
    /// quorum): reused on the next attempt so the slot sees the same bytes.
    pub fn pending_resolution(&self, id: &Digest) -> Result<Option<VaultResolution>, WalletError> {
        match self.store.get(Table::Meta, &pending_key(id))? {
            Some(b) => Ok(Some(
                VaultResolution::from_bytes(&b)
                    .map_err(super::corrupt("pending vault resolution"))?,
            )),
            None => Ok(None),
        }
    }

    /// Keeps `r` as this device's pending resolution of its vault.
    pub fn set_pending_resolution(&mut self, r: &VaultResolution) -> Result<(), WalletError> {
        let mut b = Batch::new();
        b.put(
            Table::Meta,
            pending_key(&r.lock.policy.vault_id()),
            r.to_bytes(),
        );
        self.store.commit(&b)?;
        Ok(())
    }
}

pub(super) fn conflict_key(id: &Digest) -> Vec<u8> {
    [b"vault-conflict:".as_slice(), id.to_hex().as_bytes()].concat()
}

fn pending_key(id: &Digest) -> Vec<u8> {
    [b"vault-pending:".as_slice(), id.to_hex().as_bytes()].concat()
}
