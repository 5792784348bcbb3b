//! The wallet's summary: what the read-only commands show (balances, amounts in flight,
//! history, contacts, the card), kept in a file beside the wallet so that they work
//! without the passphrase and while another process (`dsm receive`) holds the wallet open.
//!
//! It holds nothing secret — the wallet file itself stores all of it readable; only the
//! signing key is sealed — and nothing the protocol reads: it is display only. It names
//! the store root of the file it was made from (which changes with every commit), so a
//! reader that can open the wallet file (read-only, no passphrase: every record's check
//! and the store root are verified) tells a current summary from a stale one. Its own
//! check catches a damaged summary file.

use crate::wallet::{Contact, HistoryEntry, TokenView, Wallet, WalletError};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::hash::Digest;
use serde::{Deserialize, Serialize};

/// The summary's format.
pub const SUMMARY_FORMAT: u32 = 1;

/// A token as the summary shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryToken {
    /// Token id (hex).
    pub id: String,
    /// Its label ([`TokenView::label`]).
    pub label: String,
    /// Its policy's decimal places, if the policy is held.
    pub decimals: Option<u32>,
}

impl SummaryToken {
    /// As a [`TokenView`] (`None` if the id is not hex).
    pub fn view(&self) -> Option<TokenView> {
        Some(TokenView {
            id: TokenId(Digest::from_hex(&self.id)?),
            label: self.label.clone(),
            decimals: self.decimals,
        })
    }
}

/// A balance line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryBalance {
    /// Token id (hex).
    pub token: String,
    /// Base units (stored as a decimal string).
    #[serde(with = "crate::wallet::stored::amount")]
    pub amount: Amount,
    /// Base units of it that descend from a parcel spent twice.
    #[serde(with = "crate::wallet::stored::amount")]
    pub in_conflict: Amount,
    /// Why a refresh would help, if it would.
    pub refresh_advice: Option<String>,
}

/// A transfer in flight (debited, waiting for its receiver).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryTransfer {
    /// The receiver's device id (hex).
    pub peer: String,
    /// Token id (hex).
    pub token: String,
    /// Base units (stored as a decimal string).
    #[serde(with = "crate::wallet::stored::amount")]
    pub amount: Amount,
}

/// What the read-only commands show, as of one head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletSummary {
    /// [`SUMMARY_FORMAT`].
    pub format: u32,
    /// The store root (hex) of the wallet file it was made from ([`Store::root`]; empty
    /// for a store without one).
    ///
    /// [`Store::root`]: crate::store::Store::root
    pub store_root: String,
    /// That head's height.
    pub height: u64,
    /// The device id (hex).
    pub device: String,
    /// The name on its card.
    pub name: Option<String>,
    /// Its contact card.
    pub card: String,
    /// Whether this device learned its own tombstone.
    pub replaced_by_recovery: bool,
    /// Every token it knows a label for.
    pub tokens: Vec<SummaryToken>,
    /// Balances.
    pub balances: Vec<SummaryBalance>,
    /// Transfers in flight.
    pub in_flight: Vec<SummaryTransfer>,
    /// Every history line.
    pub history: Vec<HistoryEntry>,
    /// Contacts.
    pub contacts: Vec<Contact>,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    summary: serde_json::Value,
    check: String,
}

fn check_of(summary: &serde_json::Value) -> String {
    blake3::hash(summary.to_string().as_bytes())
        .to_hex()
        .to_string()
}

impl WalletSummary {
    /// The file's bytes: the summary and a check over it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let summary = serde_json::to_value(self).unwrap_or_default();
        let check = check_of(&summary);
        serde_json::to_vec(&Sealed { summary, check }).unwrap_or_default()
    }

    /// Reads a summary file's bytes; a damaged or foreign file is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<WalletSummary, WalletError> {
        let damaged = |why: &str| WalletError::Corrupt {
            what: "summary",
            error: why.to_string(),
        };
        let sealed: Sealed = serde_json::from_slice(bytes).map_err(|_| damaged("not a summary"))?;
        if check_of(&sealed.summary) != sealed.check {
            return Err(damaged("its check does not match"));
        }
        let s: WalletSummary =
            serde_json::from_value(sealed.summary).map_err(|_| damaged("malformed"))?;
        if s.format != SUMMARY_FORMAT {
            return Err(damaged("of another format"));
        }
        Ok(s)
    }

    /// The token's view, or a `token:HEX16` view with base units for an unknown id.
    pub fn token(&self, id_hex: &str) -> TokenView {
        self.tokens
            .iter()
            .find(|t| t.id == id_hex)
            .and_then(SummaryToken::view)
            .unwrap_or_else(|| {
                TokenView::unknown(TokenId(Digest::from_hex(id_hex).unwrap_or(Digest::ZERO)))
            })
    }

    /// The contact name of a device (hex), or `device HEX16`.
    pub fn peer_name(&self, device_hex: &str) -> String {
        self.contacts
            .iter()
            .find(|c| c.device == device_hex)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("device {}", &device_hex[..device_hex.len().min(16)]))
    }
}

impl Wallet {
    /// This wallet's summary as of its current head.
    pub fn summary(&self) -> Result<WalletSummary, WalletError> {
        let name = self.name()?;
        let card = self.card(name.as_deref().unwrap_or("me"))?;
        let tokens = self
            .token_views()?
            .into_values()
            .map(|v| SummaryToken {
                id: v.id.digest().to_hex(),
                label: v.label,
                decimals: v.decimals,
            })
            .collect();
        let balances = self
            .head()
            .balances
            .entries()
            .iter()
            .map(|b| SummaryBalance {
                token: b.token.digest().to_hex(),
                amount: b.amount,
                in_conflict: self.in_conflict(&b.token),
                refresh_advice: self.refresh_advice(&b.token),
            })
            .collect();
        let in_flight = self
            .pending()?
            .iter()
            .map(|p| SummaryTransfer {
                peer: p.proposal.step.receiver.digest().to_hex(),
                token: p.proposal.step.token.digest().to_hex(),
                amount: p.proposal.step.amount,
            })
            .collect();
        Ok(WalletSummary {
            format: SUMMARY_FORMAT,
            store_root: self.store_root()?.map(hex_of).unwrap_or_default(),
            height: self.head().height,
            device: self.device_id().digest().to_hex(),
            name,
            card,
            replaced_by_recovery: self.is_replaced_by_recovery(),
            tokens,
            balances,
            in_flight,
            history: self.history()?,
            contacts: self.contacts()?,
        })
    }
}

fn hex_of(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl WalletSummary {
    /// Whether this summary was made from the wallet file in `store` as it is now (the
    /// store opened read-only, which needs no passphrase and has checked every record):
    /// any commit since changed the store root.
    pub fn is_current(&self, store: &dyn crate::store::Store) -> Result<bool, WalletError> {
        Ok(match store.root()? {
            Some(root) => hex_of(root) == self.store_root,
            None => false,
        })
    }
}
