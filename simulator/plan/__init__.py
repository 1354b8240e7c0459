"""The compiled plan: a scenario's meaning, compiled once, part by part, and read by every
engine (docs/decisions.md, "The compiled plan").

One module per mechanism, each a builder and the seed-independent arrays it makes:
`calendar` (phases, intraday curve, spikes), `traffic` (volumes, visits, fees, budgets),
`conversion` (prices and the purchase formula), `stock` (stock, replenishment, returns),
`regimes` (promotion regimes by pay tick, the flash surge's reach), `baskets` (add-ons) and `carts` (when warm-up
carts pay and which tick prices them). `simulator.model.build_model` puts them together into a
`Model`; promotions' own arrays are `simulator.promotions`, auctions' `simulator.auctions`.
"""
