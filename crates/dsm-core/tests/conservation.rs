//! Conservation over random transfer sequences: value is neither created nor destroyed,
//! no balance goes negative, refused transfers change nothing, and every receipt verifies
//! in a verifier that saw all the others (no parent consumed twice).

mod common;

use common::*;
use dsm_core::chain::Amount;
use dsm_core::crypto::SuiteId;
use dsm_core::receipt::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_transfers_conserve_value(ops in proptest::collection::vec((0usize..4, 0usize..4, 0u128..120), 1..40)) {
        let mut ctr = 0;
        let mut devs: Vec<Device> = (1..=4u8).map(|n| Device::new(SuiteId::MlDsa65, n)).collect();
        devs[0].fund(token(), 200);
        devs[1].fund(token(), 50);
        let supply = 250u128;
        let mut view = MemoryView::default();
        for (from, to, amount) in ops {
            let before: Vec<u128> = devs.iter().map(|d| d.balance(&token())).collect();
            if from == to || amount == 0 || amount > before[from] {
                // Impossible transfers are refused before anything is signed; state unchanged.
                let to_id = devs[to].id();
                let r = propose(&devs[from].local(), &to_id, token(), Amount(amount), &common::inputs_of(&devs[from].local(), token(), Amount(amount)), &rnd(&mut ctr));
                prop_assert!(r.is_err());
                let after: Vec<u128> = devs.iter().map(|d| d.balance(&token())).collect();
                prop_assert_eq!(before, after);
                continue;
            }
            let (s, r) = pair(&mut devs, from, to);
            let receipt = transfer(s, r, token(), amount, &mut ctr);
            let v = verify_receipt(&receipt, &view).unwrap();
            prop_assert!(!v.already_known());
            view.record(&receipt);
            // Per edge: Δsender + Δreceiver = 0, every other device unchanged.
            let after: Vec<u128> = devs.iter().map(|d| d.balance(&token())).collect();
            prop_assert_eq!(after[from] + amount, before[from]);
            prop_assert_eq!(after[to], before[to] + amount);
            for i in 0..4 {
                if i != from && i != to {
                    prop_assert_eq!(after[i], before[i]);
                }
            }
            prop_assert_eq!(after.iter().sum::<u128>(), supply);
        }
    }
}

fn pair(devs: &mut [Device], i: usize, j: usize) -> (&mut Device, &mut Device) {
    if i < j {
        let (l, r) = devs.split_at_mut(j);
        (&mut l[i], &mut r[0])
    } else {
        let (l, r) = devs.split_at_mut(i);
        (&mut r[0], &mut l[j])
    }
}
