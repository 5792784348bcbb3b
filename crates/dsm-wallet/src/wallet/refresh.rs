//! Re-issue from the wallet's side (PROTOCOL.md §17.6): a holder's unsigned request, a
//! refresher's check of the lineages it is asked to replace, and the holder's completion
//! (the burn signed and the fresh root held, in one batch). Reading the storage nodes (the
//! lineages settled, the burned parcels unspent, the burn claiming their slots) is
//! `online::sign_refresh` and `online::complete_refresh`.

use super::parcels::{nested_hops, root_statements, settle_walk, walk_items, SettleItem};
use super::{Wallet, WalletError};
use crate::store::Batch;
use dsm_core::chain::TokenId;
use dsm_core::codec::Canonical;
use dsm_core::hash::{object_address, Digest};
use dsm_core::identity::DeviceIdentity;
use dsm_core::parcel::{verify_lineage, Hop, Lineage, Parcel, ParcelId, MAX_INPUTS};
use dsm_token::authority::{cosign, Authorised, Cosignature};
use dsm_token::reissue::{
    burn_rest, burn_statement, statement_for, Reissue, ReissueRequest, ReissueStatement,
    MAX_REQUEST_LEN,
};
use dsm_token::source::{Source, SourceProof};
use std::collections::HashMap;

/// Meta key prefix of a refresher's record: parcel → the burn it re-issued it under.
const REFRESHED: &[u8] = b"refreshed:";

/// A wallet holding more parcels of one token than this is told a refresh would help.
pub const ADVISE_PARCELS: usize = 16;
/// A wallet holding a parcel with a lineage longer than this is told a refresh would help.
pub const ADVISE_HOPS: usize = 16;

fn refused(msg: impl Into<String>) -> WalletError {
    WalletError::Token(msg.into())
}

impl Wallet {
    /// The parcels of `token` a refresh replaces: every held one not in conflict, longest
    /// lineage first, at most [`MAX_INPUTS`]: (parcel, hops).
    fn refresh_inputs(&self, token: &TokenId) -> Vec<(Parcel, usize)> {
        let mut v: Vec<(Parcel, usize)> = self
            .book
            .held
            .iter()
            .filter(|(id, h)| h.token == *token && !self.book.tainted.contains(id))
            .map(|(id, h)| {
                (
                    Parcel {
                        id: *id,
                        token: h.token,
                        amount: h.amount,
                        holder: self.device_id(),
                    },
                    h.manifest.hops.len(),
                )
            })
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
        v.truncate(MAX_INPUTS);
        v
    }

    /// Why a refresh of `token` would help, if it would: many parcels (each payment may
    /// ship several lineages) or a long lineage (each payment ships every hop of it).
    pub fn refresh_advice(&self, token: &TokenId) -> Option<String> {
        let held: Vec<usize> = self
            .book
            .held
            .values()
            .filter(|h| h.token == *token)
            .map(|h| h.manifest.hops.len())
            .collect();
        let longest = held.iter().copied().max().unwrap_or(0);
        let refreshable = self
            .rules
            .policy(token)
            .is_some_and(|p| p.refresh_authority().is_some());
        if !refreshable {
            return None;
        }
        if held.len() > ADVISE_PARCELS {
            Some(format!(
                "{} parcels held: `dsm token refresh` would make them one",
                held.len()
            ))
        } else if longest > ADVISE_HOPS {
            Some(format!(
                "a lineage of {longest} hops: `dsm token refresh` would restart it at 0"
            ))
        } else {
            None
        }
    }

    /// The unsigned request to re-issue this wallet's parcels of `token` as one root
    /// (PROTOCOL.md §17.6): nothing is signed or changed until the refreshers answer, so a
    /// refresher that declines costs nothing.
    pub fn refresh_request(&self, token: &TokenId) -> Result<ReissueRequest, WalletError> {
        let p = self
            .rules
            .policy(token)
            .ok_or_else(|| refused("this wallet holds no policy for that token"))?;
        if p.refresh_authority().is_none() {
            return Err(refused(format!(
                "{} has no refreshers (its policy names none and it has no issuers): its parcels cannot be re-issued",
                p.ticker
            )));
        }
        let inputs = self.refresh_inputs(token);
        if inputs.is_empty() || (inputs.len() == 1 && inputs[0].1 == 0) {
            return Err(refused(format!(
                "nothing to refresh: this wallet's {} is {} with no lineage to shorten",
                p.ticker,
                if inputs.is_empty() {
                    "nothing"
                } else {
                    "one fresh parcel"
                }
            )));
        }
        let parcels: Vec<Parcel> = inputs.iter().map(|(p, _)| *p).collect();
        let burn = burn_statement(self.device_id(), token, &parcels).map_err(refused)?;
        let mut manifests = Vec::with_capacity(burn.inputs.len());
        for i in &burn.inputs {
            let h = self
                .book
                .held
                .get(i)
                .ok_or_else(|| WalletError::Parcels(format!("parcel {i} is not held")))?;
            manifests.push(h.manifest.clone());
        }
        let objects = self.listed_objects(&manifests)?;
        let req = ReissueRequest {
            token: *token,
            holder: self.identity.clone(),
            burn,
            manifests,
            objects,
        };
        if req.to_bytes().len() > MAX_REQUEST_LEN {
            return Err(refused(
                "these lineages are over the 16 MiB request cap: refresh after paying some of them away",
            ));
        }
        Ok(req)
    }

    /// This device's index among `token`'s refreshers, if it is one.
    fn refresher_index(&self, token: &TokenId) -> Option<u32> {
        self.rules
            .policy(token)?
            .refresh_authority()?
            .keys
            .iter()
            .position(|k| k == self.key.public_key())
            .map(|i| i as u32)
    }

    /// A refresher's offline check of `req` (PROTOCOL.md §17.6): this device is one of the
    /// token's refreshers; the burn pays each input whole to the sink; every input's lineage
    /// verifies (from the newest ancestor this wallet cached), ends held by the requester
    /// and is of the token. Parcel forks among the hops shipped are recorded as evidence
    /// first. Returns the statement to sign and what settling the lineages walks.
    pub(crate) fn check_refresh_request(
        &mut self,
        req: &ReissueRequest,
    ) -> Result<(ReissueStatement, Vec<SettleItem>), WalletError> {
        if self.refresher_index(&req.token).is_none() {
            return Err(refused("this device is not one of the token's refreshers"));
        }
        let statement = statement_for(&req.token, &req.burn)
            .map_err(|e| refused(format!("not a re-issue request: {e}")))?;
        // Tripwire bans a device everywhere for good; a refresher is no exception.
        let holder = req.holder.device_id();
        if self.refused.refuses(&holder) {
            return Err(refused(
                "not re-issued: the holder is a proven equivocator or was replaced by recovery; nothing it signs is taken",
            ));
        }
        let objects: HashMap<Digest, Vec<u8>> = req
            .objects
            .iter()
            .map(|o| (object_address(o), o.clone()))
            .collect();
        let mut lineages = Vec::with_capacity(req.manifests.len());
        for m in &req.manifests {
            lineages.push(
                Lineage::from_objects(m, &objects)
                    .map_err(|e| refused(format!("parcel {}: {e}", m.parcel)))?,
            );
        }
        let mut burns = root_statements(&req.manifests, &objects);
        burns.extend(nested_hops(&req.manifests, &objects));
        let mut hops: Vec<(&Hop, &DeviceIdentity)> = burns.iter().map(|(h, i)| (h, i)).collect();
        for l in &lineages {
            for h in &l.hops {
                if let Some(i) = l
                    .signers
                    .iter()
                    .find(|i| i.device_id() == h.statement.holder)
                {
                    hops.push((h, i));
                }
            }
        }
        self.detect_parcel_forks(&hops)?;
        for (j, (m, l)) in req.manifests.iter().zip(&lineages).enumerate() {
            let v = match verify_lineage(
                l,
                &m.parcel,
                Some(&holder),
                &mut self.rules,
                &self.book.cache,
            ) {
                Ok(v) => v,
                Err(e) => {
                    // A root contradicting a known mint left the issuers' conflict in
                    // `TokenRules`: kept across restarts, as for an offer.
                    self.keep_held_mint_conflict(&req.token)?;
                    return Err(refused(format!("parcel {}: {e}", m.parcel)));
                }
            };
            dsm_token::reissue::check_burned(&req.token, &req.burn, j, v.parcel())
                .map_err(|e| refused(format!("not re-issued: {e}")))?;
        }
        let items: Vec<SettleItem> = walk_items(settle_walk(&req.manifests, &objects));
        Ok((statement, items))
    }

    /// The policy of `token`, if this wallet holds it.
    pub(crate) fn policy_of(&self, token: &TokenId) -> Option<&dsm_token::TokenPolicy> {
        self.rules.policy(token)
    }

    /// Signs `statement`, which burns `burned`, as one of its token's refreshers. This
    /// refresher re-issues each parcel under one burn only: a parcel it already signed for
    /// under another burn is refused (the holder would be spending it twice). The record is
    /// committed before the signature exists, so a crash can only make it refuse more;
    /// signing the same burn again is allowed.
    pub(crate) fn cosign_refresh(
        &mut self,
        statement: &ReissueStatement,
        burned: &[ParcelId],
    ) -> Result<Cosignature, WalletError> {
        let index = self
            .refresher_index(&statement.token)
            .ok_or_else(|| refused("this device is not one of the token's refreshers"))?;
        let mut b = Batch::new();
        for p in burned {
            let key = [REFRESHED, p.as_bytes().as_slice()].concat();
            match self.store.get(crate::store::Table::Meta, &key)? {
                Some(v) if v.as_slice() != statement.burn.as_bytes() => {
                    return Err(refused(format!(
                        "not re-issued: parcel {p} was re-issued by this refresher under another burn (asking again is spending it twice)"
                    )))
                }
                Some(_) => {}
                None => {
                    b.put(
                        crate::store::Table::Meta,
                        key,
                        statement.burn.as_bytes().to_vec(),
                    );
                }
            }
        }
        self.store.commit(&b)?;
        let rnd = self.random_bytes();
        Ok(cosign(&self.key, index, &statement.digest(), &rnd)?)
    }

    /// Completes our re-issue `req` with the refreshers' `signatures`: checks they reach
    /// the threshold, signs the burn, and in one batch gives the burned parcels up and holds
    /// the fresh root (never cached as verified; §17.6). The burned parcels must still be
    /// held: a request whose parcels were spent since cannot complete. Returns the root's id
    /// and the re-issue (whose burn settlement claims in the burned parcels' slots).
    pub fn complete_refresh(
        &mut self,
        req: &ReissueRequest,
        mut signatures: Vec<Cosignature>,
    ) -> Result<(ParcelId, Reissue), WalletError> {
        let me = self.device_id();
        if req.holder.device_id() != me {
            return Err(refused("this request is another device's"));
        }
        let statement = statement_for(&req.token, &req.burn)
            .map_err(|e| refused(format!("not a re-issue request: {e}")))?;
        signatures.sort_by_key(|s| s.issuer);
        signatures.dedup_by_key(|s| s.issuer);
        let p = self
            .rules
            .policy(&req.token)
            .ok_or_else(|| refused("this wallet holds no policy for that token"))?;
        let authority = p
            .refresh_authority()
            .ok_or_else(|| refused("this token has no refreshers"))?;
        // Before signing anything: the refreshers' signatures reach the threshold.
        dsm_token::authority::check_authority(authority, &statement.digest(), &signatures)?;
        for i in &req.burn.inputs {
            if !self.book.held.contains_key(i) || self.book.tainted.contains(i) {
                return Err(refused(format!(
                    "parcel {i} is no longer held (spent since the request): make a new request"
                )));
            }
        }
        let rnd = self.random_bytes();
        let hop = Hop::sign(
            &self.key,
            req.burn.clone(),
            burn_rest(&req.token, &me),
            &rnd,
        )
        .map_err(|e| WalletError::Parcels(e.to_string()))?;
        let reissue = Reissue {
            signed: Authorised {
                statement,
                signatures,
            },
            burn: hop.clone(),
            holder: self.identity.clone(),
        };
        let proof = SourceProof {
            source: Source::Reissue(Box::new(reissue.clone())),
            allowlist: self.rules.allowlist_proof(&req.token, &me),
            consumption: None,
        };
        let facts = self.rules.root_facts(&proof, Some(&me))?;
        let id = dsm_core::parcel::root_id(&facts);
        if self.poisoned {
            return Err(WalletError::Parcels(
                "an earlier write failed; reopen the wallet before signing anything else".into(),
            ));
        }
        let mut b = Batch::new();
        let mut change = self.spend_parcels(&mut b, &hop)?;
        // Kept as a consuming statement: every sync claims its parcels' slots until they
        // hold it (only this device, their holder, may write them).
        b.put(
            crate::store::Table::Meta,
            super::parcels::consumed_key(&hop.commit()),
            dsm_token::source::ConsumedParcels {
                consumption: dsm_token::source::Consumption {
                    hop: hop.clone(),
                    signer: self.identity.clone(),
                },
                manifests: req.manifests.clone(),
            }
            .to_bytes(),
        );
        change.merge(self.root_parcel_cached(
            &mut b,
            proof.to_bytes(),
            &facts.once_key,
            facts.token,
            facts.amount,
            false,
        ));
        // No head changes, but the held set does: the backup records it (PROTOCOL.md §20.2).
        self.add_capsule(&mut b, None, Vec::new())?;
        self.store.commit(&b)?;
        self.apply_book(change);
        Ok((id, reissue))
    }
}
