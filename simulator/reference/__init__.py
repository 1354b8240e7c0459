"""The reference engine: every visitor is a SimPy process. Slow, plain, and the oracle.

It reads the scenario's meaning from the compiled plan (`Model`: its time grid, volumes,
prices, regimes, windows and stock events; the list is docs/decisions.md, "What the reference
engine takes from the plan") and differs from the fast engine only in how it samples: one
SimPy process per visitor, one draw per decision. The plan's meaning is tested on its own
against hand-computed values (tests/simulator/test_plan.py). A reader should be able to check
the sampling line by line against docs/model.md and docs/promotions.md:

* channels are SimPy processes that, tick by tick, send Poisson visitors at random
  moments inside the tick (a Poisson process with a rate constant within a tick);
* a paid-search visitor is a click: it happens only while the day's and the campaign's
  budgets can pay for it;
* a visitor picks a segment (the channel's mix) and a SKU (by attractiveness), and buys
  with probability min(1, base conversion × channel quality × phase intent × segment
  conversion × promotion lift × (effective price / list price) ** (elasticity ×
  price sensitivity)); the lift applies in phases that list the SKU under `promo`;
  in a warm-up phase it adds to cart instead (priced at the next sale phase), or, with its
  SKU's `warmup_buy_now` probability, pays at once at that tick's prices;
* a buyer wants 1 + Poisson((units_per_order − 1) × basket_units) units and takes them
  from the SKU's `simpy.Container`; if fewer are left it takes what is left, and the
  rest is lost (or, in payment mode, oversold and cancelled);
* at the start of every tick, before its visitors (`mornings`): held-back flash-sale
  stock returns, forfeited deposits come back to the shelf, replenishment orders and
  inbound shipments arrive, flash sales set their allotment aside;
* warm-up carts pay at the start of the next sale phase with the pay-through rate, after
  a delay drawn from the same exponential profile.

Promotions (docs/promotions.md, followed step by step in `visitor`):

* the activity price is the phase price, or the flash price while a flash sale is live
  (and, with `after_sellout: regular`, until the tick after its sell-out);
* a flash sale's surge adds Poisson visits to its SKU from every channel without a budget;
* a visit of a segment with `customers` belongs to a uniform random customer; it may claim
  one store coupon (one uniform draw over the claimable coupons, first come first served,
  per-customer limits), which lowers its effective price and is redeemed at payment if the
  basket reaches the threshold; the platform's full reduction lowers the effective price
  and is split between the platform and the store at payment; top-up (凑单) adds units to
  reach a threshold;
* a buyer of a pre-sale SKU in its deposit window places a deposit order that takes stock
  at once; the balance is paid from `balance_from` (or the deposit is forfeited at
  `balance_to` and its units come back);
* returns rise with the discount depth of the price paid.

Readings of docs/promotions.md chosen where it leaves room (each also noted at its code):

* intent and promotion lift follow docs/model.md (the visit's phase, its pay phase for a
  warm-up); the pay tick moves only the activity price, coupon validity and reduction
  window — a warm-up visit's conversion reads them at the first tick of the next sale phase
  (what the shopper sees coming), and its cart pays at those in force at the tick it is
  paid (a flash price and allotment too, if a sale is live then);
* a coupon belongs to the visit that claimed it: a customer's later visits only meet the
  per-customer limit;
* a visit to a pre-sale SKU in its deposit window places a deposit even in a warm-up phase;
* with `after_sellout: lost` the flash price stands for the whole window (its later buyers
  are lost anyway); surge visits come in every tick of the sale's window, also after a
  sell-out; any order while a sale sells the shelf takes its units from the allotment;
* a flash allotment is set aside before the start tick's deliveries (deliveries of every
  tick of the sale join the held-back stock); `flash_end` is logged at the window's end;
* a balance payment reads the reduction at the tick it is paid (the pre-sale section's
  "payment tick"); its price and the deposit's conversion read them at `balance_from`;
* an event whose moment is the campaign's end (a sale or balance window closing at `end`)
  is logged at the last tick, T − 1, so every event lies in [0, T);
* a stock-out event's value is the units its first tick could not supply (lost, or in
  payment mode oversold or lost); oversold ticks count as stock-out ticks;
* the discount depth of returns is at least 0; money thresholds allow 1e-9 for rounding.
"""

from __future__ import annotations

from simulator.record import RunRecord
from simulator.reference.campaign import Campaign


class ReferenceEngine:
    """`ReferenceEngine(model).run(seed)`: plays the plan `model` one visitor at a time."""

    name = "reference"

    def __init__(self, model):
        self.model = model

    def run(self, seed) -> RunRecord:
        return Campaign(self.model, seed).play()
