"""The fleet generator's splits (docs/fleet.md): each a seed, parameter sets, pack sizes, climates and
schedules; a vehicle is drawn from its split's seed alone."""
FAULT_KINDS = ["resistance-growth", "micro-short", "hot-joint", "sensor-offset", "sensor-stuck", "capacity-fade"]

# The splits differ in seed, NMC parameter sets, pack sizes, climates and schedules; the held-out one is
# never looked at while tuning (docs/fleet.md).
SPLITS = {
    "ci": dict(seed=5, vehicles=4, days=1, day_hours=2.0, nmc=["Chen2020"], cells=[12, 16], healthy_share=0.25,
               ambient=(10, 30), start="2026-03-02", kinds=["resistance-growth", "micro-short", "hot-joint"],
               resistance_share=(1.3, 1.5), resistance_ramp_s=(1200, 1500), resistance_phases=("drive",),
               alternate_chemistry=True),
    "tuning": dict(seed=11, vehicles=20, days=2, day_hours=3.0, nmc=["Chen2020", "Ecker2015"], cells=[12, 24, 48],
                   healthy_share=0.3, ambient=(5, 30), start="2026-04-06", kinds=FAULT_KINDS),
    # Leaks of C/150 and more (the size the detection goals name; the tuning split's three are smaller),
    # for tuning the leak test: the tuning split's parameter sets, small packs.
    "tuning-leaks": dict(seed=12, vehicles=6, days=2, day_hours=3.0, nmc=["Chen2020", "Ecker2015"], cells=[12, 16],
                         healthy_share=0.0, ambient=(5, 30), start="2026-04-20", kinds=["micro-short"],
                         leak_divisor=(50, 150), alternate_chemistry=True),
    # Healthy packs for tuning the false-alarm side (the tuning split has 6 healthy packs of 2 days):
    # the tuning parameter sets, a colder climate than the tuning split's.
    "tuning-healthy": dict(seed=13, vehicles=12, days=5, day_hours=3.0, nmc=["Chen2020", "Ecker2015"], cells=[12, 16],
                           healthy_share=1.0, ambient=(0, 30), start="2026-05-04", kinds=FAULT_KINDS),
    # The same for reporting: the held-out parameter sets, other seeds, pack sizes and climates.
    "heldout-leaks": dict(seed=9003, vehicles=8, days=2, day_hours=3.0, nmc=["ORegan2022", "Mohtat2020"], cells=[12, 24],
                          healthy_share=0.0, ambient=(-5, 38), start="2026-08-24", kinds=["micro-short"],
                          leak_divisor=(50, 150), alternate_chemistry=True),
    # Healthy packs only, for the false-alarm rate over 500+ vehicle-hours with the held-out fleet: many
    # 2-day vehicles rather than 40 of 5 days, since the checked solver makes a 5-day vehicle cost ~3x
    # the seconds per logged hour (docs/fleet.md); the first 40 vehicles keep the earlier ones' settings.
    "heldout-healthy": dict(seed=9002, vehicles=84, days=2, day_hours=3.0, nmc=["ORegan2022", "Mohtat2020"],
                            cells=[12], healthy_share=1.0, ambient=(-5, 38), start="2026-08-03", kinds=FAULT_KINDS),
    "heldout": dict(seed=9001, vehicles=24, days=2, day_hours=3.0, nmc=["ORegan2022", "Mohtat2020"],
                    cells=[16, 24, 36, 72, 200], cell_weights=[0.3, 0.3, 0.2, 0.15, 0.05], healthy_share=0.3, ambient=(-5, 38), start="2026-07-13",
                    kinds=FAULT_KINDS),
}

# A second draw of heldout-healthy for a false-alarm figure nobody has looked at: heldout-healthy's 504 h
# were read vehicle by vehicle after its evaluation (docs/fleet.md, sixth session).
# The capacity test's end-to-end check (Tests/interop): a healthy and a weak-cell pack, two days each.
SPLITS["ci-capacity"] = dict(SPLITS["ci"], seed=6, vehicles=2, days=2, day_hours=3.0, healthy_share=0.5, kinds=["capacity-fade"],
                             alternate_chemistry=False, chemistry="nmc", capacity_loss=(0.1, 0.2))
# The bleed accounting's end-to-end check on PyBaMM packs with a balancing BMS (Tests/interop; thirty-eighth
# session): a healthy and a leaking 12-cell NMC pack of the tuning parameter set, three days through the nights.
SPLITS["ci-bleed"] = dict(SPLITS["ci"], seed=7, vehicles=2, days=3, cells=[12], healthy_share=0.5, kinds=["micro-short"],
                          alternate_chemistry=False, chemistry="nmc", log_nights=True, leak_divisor=(1000, 2000),
                          balancing=dict(current_a=(0.05, 0.15), deadband_soc=0.003, delay_s=600, least_rest_s=3600))
SPLITS["heldout-healthy-b"] = dict(SPLITS["heldout-healthy"], seed=9004, start="2026-09-07")
# A third, after heldout-healthy-b's false alarms were read (docs/fleet.md, tenth session).
SPLITS["heldout-healthy-c"] = dict(SPLITS["heldout-healthy"], seed=9005, start="2026-10-05")
# LFP packs charged at near 1C in the cold, past the plateau's upper knee, half of them healthy and half
# with a resistance that grows during a charge: for tuning the steady-load test where a cell a little
# ahead in SOC climbs first (twelfth session; the other tuning splits hold two healthy LFP packs).
SPLITS["tuning-lfp-charge"] = dict(seed=14, vehicles=8, days=2, day_hours=3.0, nmc=["Chen2020"], cells=[12, 16],
                                   healthy_share=0.5, ambient=(-8, 8), start="2026-05-18", kinds=["resistance-growth"],
                                   resistance_phases=("charge",), chemistry="lfp", charge_c=(0.8, 1.0))
# A fourth, for the false-alarm figure of the twelfth session's steady-load change (heldout-healthy-c's
# one false alarm had been read).
SPLITS["heldout-healthy-d"] = dict(SPLITS["heldout-healthy"], seed=9007, start="2026-11-02")
# A second draw of heldout-leaks, for a leak figure of code frozen before it was made (eleventh session).
SPLITS["heldout-leaks-b"] = dict(SPLITS["heldout-leaks"], seed=9006, start="2026-10-19")
# A third, for the leak test across a gap whose near side is under load (thirteenth session: read from
# heldout-leaks-b's one NMC leak not named, whose log stopped mid-charge).
SPLITS["heldout-leaks-c"] = dict(SPLITS["heldout-leaks"], seed=9008, start="2026-11-16")
# Resistance growth only, for the goal with the fewest held-out cases (heldout's two that grow while
# current flows): the held-out parameter sets, pack sizes and climates, NMC and LFP in turn (fourteenth session).
SPLITS["heldout-resistance"] = dict(SPLITS["heldout"], seed=9009, vehicles=10, cells=[16, 24, 36], cell_weights=None,
                                    healthy_share=0.0, start="2026-11-23", kinds=["resistance-growth"])
# A second draw of heldout, every fault kind, for figures of code frozen before it was made (fourteenth session).
SPLITS["heldout-b"] = dict(SPLITS["heldout"], seed=9010, start="2026-11-30")
# Fresh draws for figures of the fourteenth session's code, frozen before they were made (fifteenth
# session): more resistance growth (the goal's lead stood on three cases the rule saw), and a fifth
# healthy draw (the pair test now sees the 10 Hz status layouts, a quarter of these packs).
SPLITS["heldout-resistance-b"] = dict(SPLITS["heldout-resistance"], seed=9012, vehicles=16, start="2026-12-07")
SPLITS["heldout-healthy-e"] = dict(SPLITS["heldout-healthy"], seed=9011, start="2026-12-14")
# A sixth, for the false-alarm figure of the steady-load test's since-rest condition (sixteenth session:
# read from heldout-healthy-e's one false alarm).
SPLITS["heldout-healthy-f"] = dict(SPLITS["heldout-healthy"], seed=9013, start="2026-12-21")
# A third resistance draw, for the detection side of that condition, frozen before it was made
# (seventeenth session: the faulty cells' margin over z 3 was small on heldout-resistance-b).
SPLITS["heldout-resistance-c"] = dict(SPLITS["heldout-resistance"], seed=9014, vehicles=16, start="2026-12-28")
# LFP only, for the false-alarm goal's 500 h in that chemistry too (the healthy draws hold a third LFP:
# heldout-healthy-f's 165 h); Prada2013 is the only LFP parameter set, so the draw is held out by seed,
# pack, climate and usage, not by parameters (eighteenth session).
SPLITS["heldout-healthy-lfp"] = dict(SPLITS["heldout-healthy"], seed=9015, chemistry="lfp", start="2027-01-04")
# NMC only, the same for that chemistry, and a fourth draw of heldout-leaks: both for figures of code frozen
# before they were made (eighteenth session, d6b9f2f).
SPLITS["heldout-healthy-nmc"] = dict(SPLITS["heldout-healthy"], seed=9016, chemistry="nmc", start="2027-01-11")
SPLITS["heldout-leaks-d"] = dict(SPLITS["heldout-leaks"], seed=9017, start="2027-01-18")
# Capacity fade only (5-20 % from the start), for the capacity test's figure: the held-out parameter
# sets, NMC and LFP in turn, drawn after the test's constants were set (eighteenth session).
SPLITS["heldout-capacity"] = dict(SPLITS["heldout-leaks"], seed=9018, start="2027-01-25", kinds=["capacity-fade"])

# A second capacity draw, for a figure of code frozen before it was made (nineteenth session, af29b38):
# a third logged day, so the figure by day 2 compares with the first draw's and day 3 shows what more
# rests at other SOCs add.
SPLITS["heldout-capacity-b"] = dict(SPLITS["heldout-capacity"], seed=9019, days=3, start="2027-02-01")
# A third, with five logged days, for a figure of code frozen before it was made (twentieth session,
# 31eb769): whether cells under 5 % short, named by nothing or by resistance in the first two draws, cross
# the capacity test's threshold once more rests at more SOCs are in.
SPLITS["heldout-capacity-c"] = dict(SPLITS["heldout-capacity"], seed=9020, days=5, start="2027-02-08")
# A fourth (twenty-first session, code of c32c0db frozen): NMC cells 5-8 % short only, four logged days,
# for whether cells just past the test's 5 % (named in the first draws by resistance, or not at all, with
# estimates of 3.7-4.8 %) are named by the capacity test as rests accumulate.
SPLITS["heldout-capacity-d"] = dict(SPLITS["heldout-capacity"], seed=9021, vehicles=4, days=4, cells=[12],
                                    start="2027-02-15", alternate_chemistry=False, chemistry="nmc",
                                    capacity_loss=(0.05, 0.08))
# Every second logged, the nights too (twenty-second session, code of 9856826 frozen): the other splits log a
# few hours a day, so the rule's crossing of a leak that fires overnight was known only within ~21 h and a
# leak alarm's time to the rule could not be checked closer; and no split had held a healthy pack through
# a whole night's rest (the cooling, the relaxation) for the false-alarm side.
SPLITS["heldout-nights"] = dict(SPLITS["heldout-leaks"], seed=9022, vehicles=10, cells=[12, 16], healthy_share=0.4,
                                start="2027-02-22", log_nights=True)
# Healthy packs only, logged the same way over three days (two nights each), half of them LFP: the
# false-alarm goal's 500 h per chemistry with every night's rest in the log.
SPLITS["heldout-nights-healthy"] = dict(SPLITS["heldout-nights"], seed=9023, vehicles=20, days=3, healthy_share=1.0,
                                        start="2027-03-01")
# A third chemistry, NCA (twenty-third session, code of 54f7d20 frozen): every fault kind twice (leaks of
# C/150 and more, the goal's size) and healthy packs, logged through the night, for whether detection
# tuned on NMC and LFP packs transfers to a cell whose OCV, kinetics and diffusion no test has seen.
SPLITS["heldout-nca"] = dict(SPLITS["heldout"], seed=9024, vehicles=12, cells=[12, 16, 24], cell_weights=None,
                             healthy_share=0.0, chemistry="nca", leak_divisor=(50, 150), start="2027-03-08",
                             log_nights=True)
SPLITS["heldout-nca-healthy"] = dict(SPLITS["heldout-nca"], seed=9025, vehicles=20, cells=[12, 16], healthy_share=1.0,
                                     start="2027-03-15")
# A fourth, LCO, the same way: every fault kind twice and 8 healthy packs in one draw.
SPLITS["heldout-lco"] = dict(SPLITS["heldout-nca"], seed=9026, vehicles=20, healthy_share=0.4, chemistry="lco",
                             start="2027-03-22")
# Healthy LCO packs only, for 500 LCO hours with heldout-lco's healthy ones.
SPLITS["heldout-lco-healthy"] = dict(SPLITS["heldout-lco"], seed=9027, vehicles=12, cells=[12, 16], healthy_share=1.0,
                                     start="2027-03-29")
# LFP packs charged to the top every day (a home charger's constant voltage, the pack balanced there at the
# start), with small leaks and healthy packs (thirty-third session): no split before rested on the plateau's
# upper knee, so the charge-end tests (docs/features.md), set on our simulator's LFP packs alone, had no
# independent physics behind them. `to_top` makes each day's charge end where the day began. The first draw
# was solved at the usual 1e-4, whose charge error the knee turns into healthy cells moving 5-15 mV from one
# top to the next (cells.py): kept as drawn, its figures not reported; the second is solved at 1e-6 and
# logged through the nights (an always-on gateway: the leaks' rests on the knee, and 51 h a pack).
SPLITS["heldout-lfp-tops"] = dict(seed=9028, vehicles=8, days=3, day_hours=3.0, nmc=["Chen2020"], cells=[12, 16, 24],
                                  healthy_share=0.25, ambient=(-5, 38), start="2027-04-05", kinds=["micro-short"],
                                  chemistry="lfp", leak_divisor=(150, 3000), charge_c=(0.1, 0.3),
                                  start_soc=(0.985, 0.99), soc_spread=(0.0003, 0.001), to_top=True)
SPLITS["heldout-lfp-tops-b"] = dict(SPLITS["heldout-lfp-tops"], seed=9029, cells=[12, 16], healthy_share=0.5,
                                    start="2027-04-12", log_nights=True, solver_tolerance=1e-6)
# Leaks at the top of LFP packs for tuning the leak's size there (thirty-fourth session): the sizes given on
# heldout-lfp-tops-b were 3-19 times the true leak, from an OCV slope between SOC bins flatter than the knee
# the pack rests on. A seed, climate and dates of its own; every pack leaks.
SPLITS["tuning-lfp-tops"] = dict(SPLITS["heldout-lfp-tops-b"], seed=15, vehicles=4, days=2, cells=[12], healthy_share=0.0,
                                 ambient=(0, 30), start="2026-06-01")
# Fresh held-out packs at the top for reporting that size, with leaks of the goal's size (C/150-C/700; the
# uniform C/150-C/3,000 of heldout-lfp-tops-b drew none larger than C/2,000) and healthy packs.
SPLITS["heldout-lfp-tops-c"] = dict(SPLITS["heldout-lfp-tops-b"], seed=9030, vehicles=6, healthy_share=0.34,
                                    leak_divisor=(150, 700), start="2027-04-19")
# A current sensor that reads more than its noise (thirty-fifth session): a Hall sensor's noise (sigma C/300
# to C/80) and zero offset (up to C/150 either way) put snapshots outside the rest band (C/50) while
# the pack rests, where the other splits' sensor (0.2 % of the largest current) left it about once in
# four hours. Leaks and healthy packs through the nights, NMC and LFP alternating; and LFP packs charged to
# the top, half of them healthy, for the false alarms at the top.
NOISY_CURRENT = dict(noise_c=(1 / 300, 1 / 80), offset_c=(-1 / 150, 1 / 150))
SPLITS["heldout-noisy-current"] = dict(SPLITS["heldout-nights"], seed=9031, vehicles=8, healthy_share=0.25,
                                       alternate_chemistry=True, start="2027-05-03", current_sensor=NOISY_CURRENT)
SPLITS["heldout-lfp-tops-noisy"] = dict(SPLITS["heldout-lfp-tops-c"], seed=9032, vehicles=6, cells=[12], healthy_share=0.5,
                                        start="2027-05-10", current_sensor=NOISY_CURRENT)
# Healthy LFP packs at the top only, the same current sensor: with heldout-lfp-tops-c's and -noisy's healthy
# packs, the 500 h at the top the false-alarm goal asks.
SPLITS["heldout-lfp-tops-healthy"] = dict(SPLITS["heldout-lfp-tops-noisy"], seed=9033, vehicles=5, healthy_share=1.0,
                                          start="2027-05-17")
# A second draw of heldout-nights, NMC and LFP alternating (thirty-sixth session, drawn after the leak
# size's steadiness condition was set on the draws before): for that size and the leak goal on packs
# nobody had looked at.
SPLITS["heldout-nights-b"] = dict(SPLITS["heldout-nights"], seed=9034, vehicles=8, healthy_share=0.25,
                                  alternate_chemistry=True, start="2027-05-24")
# Cold NMC packs of a held-out parameter set through the nights (thirty-sixth session, drawn after the leak
# size's steadiness condition was set): where HELDOUTNOISYCURRENT002's relaxing cell crossed a step of its
# OCV after a charge at -4 °C, for whether that condition withholds the sizes it should and no others.
SPLITS["heldout-cold-nmc"] = dict(SPLITS["heldout-nights"], seed=9035, vehicles=8, nmc=["ORegan2022"], chemistry="nmc",
                                  alternate_chemistry=False, ambient=(-10, 5), healthy_share=0.25, start="2027-05-31")
# LFP packs only through the nights (thirty-seventh session, drawn after the secant floor for a leak's size
# was raised to 0.3 V per unit SOC from PyBaMM's OCV curves, scripts/fleet/secant_error.py): LFP resting off
# the top, where HELDOUTNIGHTSB007's leak was sized 2.4 times through a 0.17 secant.
SPLITS["heldout-nights-lfp"] = dict(SPLITS["heldout-nights"], seed=9036, vehicles=8, chemistry="lfp",
                                    alternate_chemistry=False, healthy_share=0.25, start="2027-06-07")
# NMC leaks at the goal's edge through the nights (thirty-seventh session, drawn with b150f31 frozen): C/110
# to C/150, where HELDOUTNIGHTSB002's C/120 was named 64 min into its rest; for how often the hour holds.
SPLITS["heldout-nights-nmc-edge"] = dict(SPLITS["heldout-nights"], seed=9037, vehicles=8, chemistry="nmc",
                                         alternate_chemistry=False, healthy_share=0.125, leak_divisor=(110, 150),
                                         start="2027-06-14")
# A second LFP draw like heldout-nights-lfp (thirty-seventh session, b150f31 frozen): the first rested every
# leaking pack on a plateau, so neither secant condition was put to a held-out leak.
SPLITS["heldout-nights-lfp-b"] = dict(SPLITS["heldout-nights-lfp"], seed=9038, start="2027-06-21")
# Leaks a balancing BMS hides (thirty-eighth session): the bleed accounting (`cell_leak`, evidence `bleeds`)
# had been tuned and judged on our own simulator only, whose BMS bleeds every cell it reads 4 mV above the
# lowest. These packs' BMS balances by state of charge instead (balancing.py): 10 min into every rest of an
# hour or more it bleeds each cell more than 0.3 % of SOC above the lowest for as long as that takes, at
# 50-150 mA a group, and sends a flag per cell. Leaks of C/500 to C/5,000 (the test's floor), three days
# through the nights (the test compares two whole days), NMC and LFP alternating, two healthy packs.
SPLITS["heldout-bleed"] = dict(SPLITS["heldout-nights"], seed=9039, vehicles=8, days=3, healthy_share=0.25,
                               alternate_chemistry=True, leak_divisor=(500, 5000), start="2027-06-28",
                               balancing=dict(current_a=(0.05, 0.15), deadband_soc=0.003, delay_s=600, least_rest_s=3600))
# A second balancing draw (thirty-ninth session), drawn before anyone looked: leaks of C/1,000 to C/5,000
# (under the rest test's `minimum_leak_c`, where the bleed accounting must speak) and four days through
# the nights, since the accounting compares two whole days after the BMS's deadband is crossed. Judges
# the rest test's floor at C/5,000 (measured on the seen fleets only) and the bleed accounting itself on
# the independent physics.
SPLITS["heldout-bleed-b"] = dict(SPLITS["heldout-bleed"], seed=9040, days=4, leak_divisor=(1000, 5000),
                                 start="2027-07-05")
# LFP packs drawn down to the lower knee in the cold (forty-first session, drawn after the pair test took each
# current level's own resistance as its scale): heldout-bleed-b's B005 raised `cell_resistance_rise` on a
# healthy cell at that knee at 0 °C. Days begun at 32-42 % SOC, so that each day's drive ends near empty
# (begun at 18-30 %, every pack's first drive ran a cell to its cut-off, and nothing was generated); half
# healthy, leaks and resistance growths in the rest.
SPLITS["heldout-lfp-lower-knee"] = dict(SPLITS["heldout-leaks"], seed=9041, vehicles=6, chemistry="lfp", alternate_chemistry=False,
                                        ambient=(-5, 5), start_soc=(0.32, 0.42), healthy_share=0.5,
                                        kinds=["micro-short", "resistance-growth"], start="2027-07-12")
# A second lower-knee draw (forty-first session, the mend frozen at ed0451a): heldout-lfp-lower-knee's packs
# reached the knee in their first drive, while the pair test's levels were still learning, which is not
# B005's case (a knee days after the baselines were learned on the plateau). Days begun at 40-50 % SOC
# and three of them, so that the levels are learned on the plateau and each drive ends near the knee.
SPLITS["heldout-lfp-lower-knee-b"] = dict(SPLITS["heldout-lfp-lower-knee"], seed=9042, days=3, start_soc=(0.4, 0.5),
                                          start="2027-07-19")
# B005's case drawn again (forty-second session, the pair test frozen at ed0451a; committed before it was
# generated): heldout-bleed-b's settings (four days through the nights, a balancing BMS, leaks of C/1,000 to
# C/5,000) with LFP packs only, in B005's cold, so that a pack's drives reach the lower knee days after the
# pair test learned its levels on the plateau; half of them healthy.
SPLITS["heldout-lfp-cold-nights"] = dict(SPLITS["heldout-bleed-b"], seed=9043, vehicles=4, alternate_chemistry=False,
                                         chemistry="lfp", ambient=(-3, 3), healthy_share=0.5, start="2027-07-26")
# The knee on unseen data again (forty-third session, the pair test frozen at d1e10c5; committed before it
# was generated): heldout-lfp-cold-nights' four cold days through the nights with a balancing BMS, begun
# at 45-55 % SOC (its 65-85 % left the median cell at 3.01-3.10 V under load; the lower-knee draws' 40-50 %
# ran half the packs empty in their first drive), so that some days' drives end near the lower knee after
# the levels were learned on the plateau; leaks and resistance growths in half the packs.
SPLITS["heldout-lfp-cold-knee"] = dict(SPLITS["heldout-lfp-cold-nights"], seed=9044, start_soc=(0.45, 0.55),
                                       kinds=["micro-short", "resistance-growth"], start="2027-08-02")
# heldout-lfp-cold-knee again with another seed (forty-third session, d1e10c5 frozen; committed before it was
# generated): of its three packs one healthy pack reached the knee days after its levels were learned.
SPLITS["heldout-lfp-cold-knee-b"] = dict(SPLITS["heldout-lfp-cold-knee"], seed=9045, start="2027-08-09")
# heldout-lfp-cold-nights again with another seed (forty-fourth session, the pair test frozen at d1e10c5;
# committed before it was generated): its 003 raised a healthy cell with a slower electrode in a cold
# crawl after a drive (mended in 99b41f7 and seen since); its 65-85 % SOC kept every pack off the cut-off.
SPLITS["heldout-lfp-cold-nights-b"] = dict(SPLITS["heldout-lfp-cold-nights"], seed=9046, start="2027-08-16")
# And once more (forty-fourth session, d1e10c5 frozen, committed before it was generated), judged by its
# closest calls as well: the independent physics' thinnest margin was a cold morning's first crawl.
SPLITS["heldout-lfp-cold-nights-c"] = dict(SPLITS["heldout-lfp-cold-nights"], seed=9047, start="2027-08-23")
# A pack whose cells do not cool alike (forty-fifth session, d746fd0 frozen, committed before it was
# generated): each cell's heat transfer by its place (a coolant path or an air-cooled pack's edges, ±15-35 %),
# in a warm climate with fast charges (1-2C), so that healthy sensors part by their places under heavy current.
# Hot joints and sensor faults beside healthy packs; the tuning draw of the same (Chen2020, Ecker2015) for any
# mend, the held-out one judged once.
SPLITS["heldout-pack-heat"] = dict(seed=9048, vehicles=6, days=3, day_hours=3.0, nmc=["ORegan2022", "Mohtat2020"],
                                   cells=[12, 16, 24], healthy_share=0.5, ambient=(20, 40), start="2027-08-30",
                                   kinds=["hot-joint", "sensor-offset", "resistance-growth"], alternate_chemistry=True,
                                   charge_c=(1.0, 2.0), cooling_spread=(0.15, 0.35))
SPLITS["tuning-pack-heat"] = dict(SPLITS["heldout-pack-heat"], seed=16, nmc=["Chen2020", "Ecker2015"], start="2026-06-08")
# A liquid-cooled pack's coolant warming along its path with the pack's heat (forty-fifth session, d746fd0's
# detection frozen, committed before it was generated): PyBaMM's lumped cells heat 2-3 K in a fast charge
# (heldout-pack-heat), where a real pack's coolant carries the heat of all its cells past the sensors in turn,
# 1-3 K inlet to outlet at a steady 1C (4-12 K at 2C), after the loop's 5 min lag (measurement.py): healthy
# sensors part by their places, as a hot joint's does by its heat. Charges of 1-2C from a lower SOC, so that
# the charger is not derated at the top.
SPLITS["tuning-coolant"] = dict(seed=17, vehicles=4, days=2, day_hours=3.0, nmc=["Chen2020", "Ecker2015"], cells=[12, 16],
                                healthy_share=0.5, ambient=(15, 35), start="2026-06-15", kinds=["hot-joint", "sensor-offset"],
                                alternate_chemistry=True, charge_c=(1.0, 2.0), start_soc=(0.4, 0.6), coolant_rise=(1.0, 3.0))
SPLITS["heldout-coolant"] = dict(SPLITS["tuning-coolant"], seed=9049, nmc=["ORegan2022", "Mohtat2020"], vehicles=6,
                                 ambient=(10, 40), start="2027-09-06", kinds=["hot-joint", "sensor-offset", "resistance-growth"])
# heldout-coolant again with another seed and larger packs (more sensors along the path), committed before it
# was generated with c5753e5 frozen: the sensor test's parting was written after heldout-coolant's alarms.
SPLITS["heldout-coolant-b"] = dict(SPLITS["heldout-coolant"], seed=9050, cells=[12, 16, 24], start="2027-09-13")
# And once more (forty-fifth session, c5753e5 frozen, committed before it was generated): larger packs
# (more sensors along the path), a steeper coolant rise, mostly healthy packs for the false-alarm side.
SPLITS["heldout-coolant-c"] = dict(SPLITS["heldout-coolant-b"], seed=9051, cells=[24], healthy_share=0.67,
                                   coolant_rise=(1.5, 4.0), start="2027-09-20")
# The coolant warming the cells themselves (forty-sixth session, c5753e5's detection frozen, committed before it
# was generated): each cell's PyBaMM ambient is the coolant where it passes the cell (the same rise by place and
# lag as the coolant splits' sensors), its heat transfer 2-4x the set's own (a cold plate), so that in a fast
# charge the inlet's cells run cooler, with more resistance, than the outlet's, and the sensors read it in their
# cells. Resistance growth and leaks beside healthy packs; the tuning draw for any mend, the held-out one judged once.
# From a higher SOC than the coolant splits: on the plate the cells do not warm themselves, and the first tuning
# draw's Chen2020 pack at 17 °C ran a cell empty in its first drive from 44 %.
SPLITS["tuning-coolant-cells"] = dict(SPLITS["tuning-coolant"], seed=18, cells=[12, 16, 24], coolant_rise=(1.5, 4.0),
                                      coolant_warms_cells=(2.0, 4.0), kinds=["resistance-growth", "micro-short", "hot-joint"],
                                      start_soc=(0.5, 0.7), start="2026-06-22")
SPLITS["heldout-coolant-cells"] = dict(SPLITS["tuning-coolant-cells"], seed=9052, nmc=["ORegan2022", "Mohtat2020"],
                                       vehicles=6, ambient=(10, 40), start="2027-09-27")
# And again for the false-alarm side (forty-sixth session, c5753e5 frozen, committed before it was generated):
# mostly healthy larger packs, a steeper rise.
SPLITS["heldout-coolant-cells-b"] = dict(SPLITS["heldout-coolant-cells"], seed=9053, cells=[16, 24], healthy_share=0.67,
                                         coolant_rise=(2.0, 4.0), kinds=["resistance-growth", "micro-short"], start="2027-10-04")
