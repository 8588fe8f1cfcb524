// The scenario schema's table: every key declared once, in the order files, docs and the
// resolved scenario.toml present them, and the prose that follows each table in the docs. A new
// key is one row here plus its member (with its default) in scenarios/scenario.hpp; the loader,
// --set, the resolved file, `baffle schema` and docs/scenarios.md follow from the row.
#include <limits>

#include "scenarios/schema_builder.hpp"

namespace baffle::schema_detail {
namespace {

constexpr number_range positive{0.0, std::numeric_limits<double>::infinity(), true, false};
constexpr number_range non_negative{0.0, std::numeric_limits<double>::infinity(), false, false};
constexpr number_range unit_open{0.0, 1.0, false, true};
// Finite but absurd values (1e308) would load and then overflow to inf/NaN mid-run: every
// unbounded knob gets a maximum far beyond any sensible setting.
constexpr number_range rate{0.0, 1e3, true, false};           // learning rates, decay factors
constexpr number_range sigma_range{0.0, 100.0, true, false};  // perturbation scale
constexpr number_range speed{0.0, 1e9, true, false};          // GFLOP/s (1e9: an exaflop device)

}  // namespace

std::vector<key_spec> make_schema() {
  std::vector<key_spec> rows;
  // --- top level
  rows.push_back(key("name", FIELD(name)).doc("run name; the default run folder is `runs/<name>`"));
  rows.push_back(
      key("seed", FIELD(seed))
          .ints(0)
          .doc("the one seed every random stream derives from (partition, minibatches, selection, "
               "initialisation, perturbations)"));

  // --- [data]
  rows.push_back(key("data.dataset", FIELD(data.dataset))
                     .doc("which data set: an MNIST-format folder at `path`, the CIFAR-10 binary "
                          "folder at `path` (`data_batch_1.bin` .. `data_batch_5.bin`, "
                          "`test_batch.bin`, from cifar-10-binary.tar.gz; 3 channels of 32x32, "
                          "not padded), or generated data (no files; `path` is not read)")
                     .allowed_note("`\"mnist\"` reads any MNIST-format IDX folder"));
  rows.push_back(
      key("data.path", FIELD(data.path))
          .doc("folder with `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, "
               "`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally `.gz`")
          .default_note("Debian package `dataset-fashion-mnist`")
          .allowed_note("an existing directory (relative paths are taken from the working "
                        "directory); not read for synthetic data"));
  rows.push_back(key("data.train_subset", FIELD(data.train_subset))
                     .ints(0)
                     .unit("images")
                     .doc("use only the first N training images (0 = all 60,000)"));
  rows.push_back(key("data.test_subset", FIELD(data.test_subset))
                     .ints(0)
                     .unit("images")
                     .doc("evaluate on the first N test images (0 = all 10,000)"));
  rows.push_back(key("data.validation_fraction", FIELD(data.validation_fraction))
                     .range({0.0, 0.5, false, false})
                     .doc("share of the training images held out (seeded) for validation before "
                          "the rest is split among clients"));
  rows.push_back(key("data.image_size", FIELD(data.image_size))
                     .ints(0, 1024)
                     .unit("pixels")
                     .allowed_note("not below the stored size")
                     .doc("pad images (centred, with black pixels) to this side before the "
                          "network; 32 gives LeNet the reference's 32 x 32 input (the reference "
                          "resizes 28 -> 32 instead); 0 keeps them as stored"));
  rows.push_back(
      key("data.partition", FIELD(data.partition))
          .doc("how the training images left after validation are split among clients: `iid` "
               "(dealt evenly at random), `dirichlet` (label skew: per class, client shares ~ "
               "Dir(alpha)), `shards` (sorted by label and cut into count x shards_per_client "
               "shards, dealt at random), `quantity` (IID labels, client sizes ~ Dir(alpha)); the "
               "validation split is the same for every choice"));
  rows.push_back(key("data.dirichlet_alpha", FIELD(data.dirichlet_alpha))
                     .range(positive)
                     .doc("concentration for `dirichlet` and `quantity`; smaller is more skewed "
                          "(0.1 strongly, 100 nearly IID)"));
  rows.push_back(key("data.shards_per_client", FIELD(data.shards_per_client))
                     .ints(1, 10000)
                     .doc("shards per client for `shards` (2 gives most clients two labels)"));
  rows.push_back(
      key("data.synthetic", FIELD(data.synthetic))
          .doc("generated data: `teacher` (random pixels labelled by a fixed random linear "
               "teacher: learnable by construction) or `mixture` (one Gaussian per class in pixel "
               "space); 28x28, 10 classes, seeded from `seed`"));
  rows.push_back(key("data.synthetic_train", FIELD(data.synthetic_train))
                     .ints(1, 4294967295LL)
                     .unit("images")
                     .doc("generated training images"));
  rows.push_back(key("data.synthetic_test", FIELD(data.synthetic_test))
                     .ints(1, 4294967295LL)
                     .unit("images")
                     .doc("generated test images"));
  rows.push_back(
      key("data.synthetic_noise", FIELD(data.synthetic_noise))
          .range(non_negative)
          .allowed_note("at most 1 for the teacher")
          .doc("teacher: probability a label is replaced by a random class; mixture: pixel "
               "standard deviation / 255"));

  // --- [model]
  rows.push_back(
      key("model.arch", FIELD(model.arch))
          .doc("network architecture: `mlp` (linear layers, ReLU), `wrn` (pre-activation wide "
               "ResNet with GroupNorm, as the reference builds it; always GroupNorm) or `lenet` "
               "as the reference code builds it: conv5x5 pad 2 (1 -> c1) -> [GroupNorm] -> act -> "
               "maxpool 2 -> conv5x5 pad 2 (c1 -> c2) -> [GroupNorm] -> act -> global average "
               "pool -> linear (26,730 parameters for [16, 64])"));
  rows.push_back(key("model.hidden", FIELD(model.hidden))
                     .ints(1, 65536)
                     .doc("mlp: hidden layer widths; `[]` is softmax regression"));
  rows.push_back(key("model.channels", FIELD(model.channels))
                     .ints(1, 4096)
                     .allowed_note("exactly two")
                     .doc("lenet: output channels of the two convolutions"));
  rows.push_back(key("model.activation", FIELD(model.activation))
                     .allowed_note("`\"hardswish\"` is the reference's; the mlp uses `\"relu\"`")
                     .doc("lenet and wrn: activation after each convolution / normalisation (the "
                          "mlp always uses relu)"));
  rows.push_back(
      key("model.norm", FIELD(model.norm))
          .allowed_note("the wrn always uses `\"group\"`")
          .doc("lenet: normalisation after each convolution (GroupNorm with affine off, as the "
               "reference)"));
  rows.push_back(key("model.groups", FIELD(model.groups))
                     .ints(0, 4096)
                     .allowed_note("for lenet it must divide both `channels`, for wrn 16")
                     .doc("GroupNorm groups; 0 = the architecture's default (lenet 2; wrn as the "
                          "reference: max(2, C/16) inside blocks)"));
  rows.push_back(key("model.depth", FIELD(model.depth))
                     .ints(10, 1000)
                     .allowed_note("6n + 4: 10, 16, 22, 28, ...")
                     .doc("wrn: depth 6n + 4 (n pre-activation basic blocks per group)"));
  rows.push_back(key("model.width", FIELD(model.width))
                     .ints(1, 64)
                     .doc("wrn: widening factor (channels 16, 16w, 32w, 64w; WRN-10-2 has 302,506 "
                          "parameters on 1-channel input)"));
  rows.push_back(
      key("model.precision", FIELD(model.precision))
          .allowed_note(
              "bf16 and int8 runs are reproducible on one CPU kind; their digests may differ "
              "between oneDNN ISAs (`summary.json` names the one that ran)")
          .doc("precision of the BAFFLE clients' forward passes: the perturbed weights W + sigma "
               "eps_k are formed in f32, then the inputs and weights of every convolution and "
               "linear layer are rounded to bf16 (nearest, ties to even) or quantised to int8 "
               "(symmetric: one scale per output channel from the perturbed weights, one per "
               "activation tensor calibrated on the minibatch at each forward); accumulation, "
               "element-wise layers and the loss stay f32. Evaluation, the server's update and "
               "the backprop baselines always run in f32; evaluation rounds also score the "
               "model at this precision (rounds.csv's `test_acc_lowp`). A perturbation below "
               "half a bf16 ulp of a weight (sigma 1e-4 on weights near 0.1) vanishes on "
               "rounding"));

  // --- [train]
  rows.push_back(
      key("train.algorithm", FIELD(train.algorithm))
          .doc("`baffle`: clients send K loss differences; `fedsgd`: clients send their minibatch "
               "gradient (backprop, n floats); `fedavg`: clients run `local_epochs` of SGD on "
               "their shard and send their weights (n floats). For the baselines the task is "
               "charged with the model's weights on the downlink, and a backprop step costs 3 "
               "forward passes of FLOPs in the device model"));
  rows.push_back(
      key("train.local_epochs", FIELD(train.local_epochs))
          .ints(1, 1000)
          .when("train.algorithm", algorithm_kind::fedavg)
          .doc("fedavg: passes over the client's shard per round; every client runs local_epochs "
               "x ceil(smallest shard / batch_size) steps"));
  rows.push_back(key("train.local_lr", FIELD(train.local_lr))
                     .range(rate)
                     .when("train.algorithm", algorithm_kind::fedavg)
                     .doc("fedavg: the clients' SGD learning rate (the server then averages the "
                          "weights, server lr 1)"));
  rows.push_back(key("train.rounds", FIELD(train.rounds)).ints(1).doc("communication rounds"));
  rows.push_back(key("train.batch_size", FIELD(train.batch_size))
                     .ints(1)
                     .unit("images")
                     .doc("minibatch size per client per round (each client walks through a fresh "
                          "permutation of its shard per local epoch)"));
  rows.push_back(key("train.optimizer", FIELD(train.optimizer)).doc("server optimizer"));
  rows.push_back(key("train.lr", FIELD(train.lr)).range(rate).doc("learning rate"));
  rows.push_back(key("train.momentum", FIELD(train.momentum))
                     .range(unit_open)
                     .doc("SGD momentum (torch semantics)"));
  rows.push_back(
      key("train.beta1", FIELD(train.beta1)).range(unit_open).doc("Adam first-moment decay"));
  rows.push_back(
      key("train.beta2", FIELD(train.beta2)).range(unit_open).doc("Adam second-moment decay"));
  rows.push_back(key("train.adam_eps", FIELD(train.adam_eps))
                     .range({0.0, 1.0, true, false})
                     .doc("Adam epsilon"));
  rows.push_back(key("train.weight_decay", FIELD(train.weight_decay))
                     .range({0.0, 1e3, false, false})
                     .doc("coupled weight decay, added to the gradient"));
  rows.push_back(key("train.eval_every", FIELD(train.eval_every))
                     .ints(1)
                     .unit("rounds")
                     .doc("evaluate on the test and validation sets every N rounds (and always "
                          "after the last)"));
  rows.push_back(key("train.nesterov", FIELD(train.nesterov))
                     .allowed_note("true needs `optimizer = \"sgd\"` and `momentum > 0`")
                     .doc("Nesterov momentum (torch's form)"));
  rows.push_back(key("train.milestones", FIELD(train.milestones))
                     .ints(1, std::numeric_limits<int>::max())
                     .unit("rounds")
                     .doc("rounds from which the learning rate is multiplied by `gamma` (each "
                          "milestone once)"));
  rows.push_back(key("train.gamma", FIELD(train.gamma))
                     .range(rate)
                     .doc("learning-rate factor at each milestone"));
  rows.push_back(key("train.warmup_rounds", FIELD(train.warmup_rounds))
                     .ints(0)
                     .unit("rounds")
                     .doc("rounds 1..N use a learning rate ramping linearly from `warmup_lr` to "
                          "`lr` (reaching `lr` at round N)"));
  rows.push_back(key("train.warmup_lr", FIELD(train.warmup_lr))
                     .range({0.0, 1e3, false, false})
                     .doc("learning rate the warm-up starts from"));
  rows.push_back(
      key("train.clip_inf", FIELD(train.clip_inf))
          .range(non_negative)
          .doc("when the largest gradient coordinate exceeds it, the whole gradient is "
               "rescaled so that it equals it (the reference code's clipping); 0 = off"));
  rows.push_back(key("train.ema_decay", FIELD(train.ema_decay))
                     .range(unit_open)
                     .doc("exponential moving average of the weights, updated every `ema_every` "
                          "rounds (server updates under async) and used for evaluation (the raw "
                          "weights' figures go to `test_acc_raw`); 0 = off"));
  rows.push_back(key("train.ema_every", FIELD(train.ema_every))
                     .ints(1)
                     .unit("rounds")
                     .allowed_note("above 1 needs `ema_decay > 0`")
                     .doc("the EMA takes in the weights after every N-th update (model versions "
                          "N, 2N, ...); the reference code updates it once per epoch, 172 rounds "
                          "of batch 32 on its 5,500-image shards"));
  rows.push_back(key("train.ema_warmup", FIELD(train.ema_warmup))
                     .allowed_note("true needs `ema_decay > 0`")
                     .doc("torch_ema's schedule, which the reference code uses: the average "
                          "starts from the initial weights and its n-th update decays by "
                          "min(ema_decay, (1 + n) / (10 + n)), so the early average follows the "
                          "weights closely (2/11 at n = 1); false: ema_decay from the start, the "
                          "average starting from the first update's weights"));

  // --- [baffle]
  rows.push_back(key("baffle.k", FIELD(baffle.k))
                     .ints(1, 100000)
                     .doc("perturbations per client per round; each client sends K scalars"));
  rows.push_back(
      key("baffle.sigma", FIELD(baffle.sigma)).range(sigma_range).doc("perturbation scale"));
  rows.push_back(
      key("baffle.scheme", FIELD(baffle.scheme))
          .doc("finite differences: `forward` d_k = L(W + sigma eps_k) - L(W) (K + 1 forward "
               "passes), `central` d_k = (L(W + sigma eps_k) - L(W - sigma eps_k)) / 2 (2K "
               "passes)"));
  rows.push_back(
      key("baffle.seeds", FIELD(baffle.seeds))
          .doc("`shared`: every client of a round uses the same eps_k (the server needs only the "
               "weighted sum of scalar vectors); `per-client`: client c's eps_k come from a seed "
               "derived from (round seed, c), and the server regenerates K directions per client"));
  rows.push_back(
      key("baffle.distribution", FIELD(baffle.distribution))
          .doc("entries of the perturbation directions u_k: `gaussian` N(0, 1) (the paper's), "
               "`rademacher` +-1 with equal odds, `sphere` Gaussian scaled onto the sphere of "
               "radius sqrt(n), n the parameter count (each client and the server take every "
               "direction's norm first: one more pass of n draws per direction). All have E[u u^T] "
               "= I, so the estimate keeps its form (docs/algorithm.md)"));
  rows.push_back(
      key("baffle.orthogonal", FIELD(baffle.orthogonal))
          .allowed_note("K x n at most 1e9 floats, and K at most `sparsity` x n")
          .doc("orthonormalise each seed's K directions (Gram-Schmidt in order k = 0, 1, ..., then "
               "scaled to radius sqrt(n)); this needs all K directions of a seed at once: K x n "
               "floats (4 K n bytes) on the server and on every client computing at a time, and "
               "about 4 K^2 n multiply-adds per seed. Under `sphere` it gives the same directions "
               "as under `gaussian`"));
  rows.push_back(
      key("baffle.baseline", FIELD(baffle.baseline))
          .allowed_note("`\"mean\"` needs K >= 2")
          .doc("`mean`: each client subtracts the mean of its K loss differences from each before "
               "sending them (a control variate; by linearity the same as subtracting it from the "
               "aggregate). It removes what all K share (the forward scheme's sigma^2/2 u^T H u, "
               "loss noise) and biases the estimate: its expectation is (1 - 1/K) times the plain "
               "one's (docs/algorithm.md)"));
  rows.push_back(
      key("baffle.sparsity", FIELD(baffle.sparsity))
          .range({0.0, 1.0, true, false})
          .doc("fraction p of the parameters perturbed: each perturbation seed draws a mask "
               "(parameter i kept with probability p, from the seed's own stream), and its "
               "directions are zero off the mask and scaled by 1/sqrt(p) on it, so E[u u^T] = I "
               "still; 1 = every parameter (off)"));
  rows.push_back(
      key("baffle.download", FIELD(baffle.download))
          .allowed_note("BAFFLE only: the backprop baselines always download the weights")
          .doc("how a selected client gets the current model, charged on its downlink before it "
               "computes. `weights`: the full weights travel with every task (serialized size of "
               "the parameters). `replay`: the server sends the updates the client missed since "
               "it last took part, each a `model_update` message (per perturbation seed: the seed "
               "and K coefficients), and the device replays them, regenerating the perturbations: "
               "116 FLOP-equivalents per replayed element (K x parameters per seed group), "
               "charged at the device's speed (see docs/performance.md for the ratio). Replay is "
               "cheap for frequent participants and grows with the rounds a client missed. "
               "Replaying steps the optimizer, so a device needs the optimizer's state (Adam: two "
               "moment vectors and the step count; SGD: the momentum vector; plain SGD: "
               "nothing): devices start with the initial state, and one that got plain weights "
               "takes the weights and the state once (charged as such) before it can replay "
               "again. `auto`: per client and task, whichever lets it start computing sooner "
               "(download time, plus replay time for replay; ties go to the weights)"));

  rows.push_back(
      key("baffle.seed_pool", FIELD(baffle.seed_pool))
          .ints(0, 1000000)
          .when("train.algorithm", algorithm_kind::baffle)
          .allowed_note("0: off; needs `train.optimizer = \"sgd\"` without momentum or weight "
                        "decay, shared seeds, and M x n at most 2.5e8 floats")
          .doc("a finite seed pool: M perturbation seeds fixed at the start, and each round "
               "perturbs with one of them (drawn from the run's seed), so the model is always the "
               "initial weights plus one coefficient per pool direction (M x K). The server keeps "
               "the model that way (M x n floats of partial sums per replica); a device that "
               "missed any number of updates can catch up from the M x K coefficients by "
               "regenerating the M x K directions once (FedKSeed-style bounded replay), which "
               "`download = \"replay\"` and `\"auto\"` charge instead of the missed updates when "
               "it is sooner. The coefficients absorb each step's learning rate and clipping "
               "scale, so schedules and `clip_inf` stay exact; Adam, momentum and weight decay do "
               "not keep the model in that form and are refused. Checkpoints and the snapshots "
               "nodes get hold the coefficients, so a pool run resumes, and workers may join it, "
               "bit for bit"));

  // --- [clients]
  rows.push_back(key("clients.count", FIELD(clients.count)).ints(1).doc("number of clients"));
  rows.push_back(key("clients.per_round", FIELD(clients.per_round))
                     .ints(1)
                     .allowed_note("at most `count`")
                     .doc("clients selected each round (seeded, without replacement); for "
                          "`first-m`, the number of results kept; for `async`, the default of "
                          "`server.concurrency`"));
  rows.push_back(key("clients.dropout", FIELD(clients.dropout))
                     .range(unit_open)
                     .doc("probability that a selected client vanishes in a round (drawn per "
                          "client and round from its own stream); its work is not computed"));
  rows.push_back(
      key("clients.availability.trace", FIELD(clients.availability_trace))
          .empty_is_unset("no trace: every client always available")
          .allowed_note("path of an existing file (relative to the working directory)")
          .doc("FedScale-style availability trace: the server selects only clients online when a "
               "round starts, and a client that goes offline before its result arrives counts as "
               "dropped. One record a line, `client,time,state` (optional header "
               "`client,time,state`; time a duration like `90s` or a bare number of seconds; "
               "state `on` or `off`; a record is a change, so before its first record a client is "
               "in the opposite state); an optional `loop,<period>` line repeats the trace; `#` "
               "comments; clients not in the trace are always online"));
  rows.push_back(
      key("clients.link.latency", FIELD(clients.link.latency))
          .as(value_type::duration_distribution)
          .unit("s")
          .allowed_note("a duration (the same for every client), or a distribution of durations: "
                        "`{ dist = \"uniform\", min = \"20ms\", max = \"80ms\" }`, `{ dist = "
                        "\"normal\", mean = \"50ms\", stddev = \"10ms\" }` (redrawn below 0), `{ "
                        "dist = \"lognormal\", median = \"50ms\", sigma = 0.5 }`")
          .doc("one-way latency, drawn once per client and direction from its own stream"));
  rows.push_back(
      key("clients.link.up", FIELD(clients.link.up_bytes_per_sec))
          .as(value_type::rate)
          .unit("bytes/s")
          .default_note("unlimited")
          .allowed_note("`\"1Mbps\"`, `\"500kbps\"`, `\"1Gbps\"` (bits per second), `\"20MBps\"`, "
                        "`\"64kBps\"` (bytes per second), `\"0\"`")
          .doc("client -> server bandwidth; transfer time = latency + bytes / bandwidth"));
  rows.push_back(key("clients.link.down", FIELD(clients.link.down_bytes_per_sec))
                     .as(value_type::rate)
                     .unit("bytes/s")
                     .default_note("unlimited")
                     .allowed_note("as `up`")
                     .doc("server -> client bandwidth"));
  rows.push_back(
      key("clients.compute.gflops", FIELD(clients.compute.gflops))
          .range(speed)
          .unit("GFLOP/s")
          .doc("median device speed; compute time = forward passes x FLOPs per forward / speed"));
  rows.push_back(key("clients.compute.gflops_bf16", FIELD(clients.compute.gflops_bf16))
                     .range({0.0, 1e9, false, false})
                     .unit("GFLOP/s")
                     .default_note("the same speed as `gflops`")
                     .allowed_note("0: the same speed as `gflops`")
                     .doc("median device speed for BAFFLE forward passes at `model.precision = "
                          "\"bf16\"` (spread, stragglers and jitter apply as to `gflops`)"));
  rows.push_back(key("clients.compute.gflops_int8", FIELD(clients.compute.gflops_int8))
                     .range({0.0, 1e9, false, false})
                     .unit("GFLOP/s")
                     .default_note("the same speed as `gflops`")
                     .allowed_note("0: the same speed as `gflops`")
                     .doc("median device speed for BAFFLE forward passes at `model.precision = "
                          "\"int8\"`"));
  rows.push_back(key("clients.compute.spread", FIELD(clients.compute.spread))
                     .allowed_note("a number, or `{ dist = \"lognormal\", median = 1.0, sigma = "
                                   "0.5 }`, `{ dist = \"uniform\", min = 0.5, max = 2.0 }`, `{ "
                                   "dist = \"normal\", mean = 1.0, stddev = 0.2 }`")
                     .doc("per-client speed factor, drawn once per client"));
  rows.push_back(key("clients.compute.stragglers", FIELD(clients.compute.stragglers))
                     .range({0.0, 1.0, false, false})
                     .doc("fraction of clients (exactly floor(fraction x count), chosen by a "
                          "seeded draw) whose speed is divided by `straggler_slowdown`"));
  rows.push_back(
      key("clients.compute.straggler_slowdown", FIELD(clients.compute.straggler_slowdown))
          .range({1.0, 1e6, false, false})
          .doc("how much slower a straggler is"));
  rows.push_back(key("clients.compute.jitter", FIELD(clients.compute.jitter))
                     .range(unit_open)
                     .doc("per-round speed factor, uniform in [1 - jitter, 1 + jitter), drawn per "
                          "client and round"));

  // --- [server]
  rows.push_back(
      key("server.policy", FIELD(server.policy))
          .doc("`sync`: wait for every selected client that did not drop; `deadline`: accept "
               "results that arrive within `deadline` of the round's start (the round closes at "
               "the deadline, or earlier once every non-dropped client has arrived); `first-m`: "
               "select ceil(`per_round` x `over_select`) clients and keep the first `per_round` "
               "arrivals (ties by client id); `async`: FedBuff, see below"));
  rows.push_back(key("server.deadline", FIELD(server.deadline))
                     .when("server.policy", policy_kind::deadline)
                     .unit("s")
                     .allowed_note("positive")
                     .doc("the deadline policy's window"));
  rows.push_back(key("server.over_select", FIELD(server.over_select))
                     .range({1.0, 100.0, false, false})
                     .when("server.policy", policy_kind::first_m)
                     .doc("the first-m policy's over-selection factor"));
  rows.push_back(key("server.concurrency", FIELD(server.concurrency))
                     .ints(1)
                     .when("server.policy", policy_kind::async)
                     .default_from("clients.per_round")
                     .allowed_note("at most `clients.count`")
                     .doc("async: clients in flight at any time; each arrival frees its slot for "
                          "a new client"));
  rows.push_back(key("server.buffer", FIELD(server.buffer))
                     .ints(1)
                     .when("server.policy", policy_kind::async)
                     .doc("async: results per server update (a row of `rounds.csv`; "
                          "`train.rounds` counts these updates)"));
  rows.push_back(
      key("server.staleness", FIELD(server.staleness))
          .when("server.policy", policy_kind::async)
          .doc("async: weight of a result computed tau updates ago: `constant` 1; "
               "`poly` (1 + tau)^-a; `hinge` 1 for tau <= b, else 1 / (a (tau - b) + 1)"));
  rows.push_back(key("server.staleness_exponent", FIELD(server.staleness_exponent))
                     .range({0.0, 100.0, false, false})
                     .when("server.policy", policy_kind::async)
                     .unless("server.staleness", staleness_kind::constant)
                     .doc("async: a in the `poly` and `hinge` weights"));
  rows.push_back(key("server.staleness_hinge", FIELD(server.staleness_hinge))
                     .ints(0)
                     .when("server.policy", policy_kind::async)
                     .when("server.staleness", staleness_kind::hinge)
                     .doc("async: b of the `hinge` weight (staleness with full weight)"));
  rows.push_back(
      key("server.max_staleness", FIELD(server.max_staleness))
          .ints(0)
          .when("server.policy", policy_kind::async)
          .default_note("no limit")
          .doc("async: results staler than this are discarded on arrival (counted as `late`, "
               "their passes as wasted)"));

  // --- [run]
  rows.push_back(
      key("run.checkpoint_every", FIELD(run.checkpoint_every))
          .ints(0)
          .unit("rounds")
          .allowed_note("0: only when stopped by a signal")
          .doc("write `checkpoint.bin` into the run folder every N rounds (async: server updates): "
               "model, optimizer and EMA state, round, virtual clock, per-client counters, "
               "download bookkeeping and, under async, every dispatch in flight with its computed "
               "result. `baffle run --resume DIR` continues from it and ends with the same model "
               "as an uninterrupted run. SIGINT/SIGTERM always write one before stopping. Random "
               "streams are keyed by (seed, purpose, client, round), so no generator state needs "
               "saving"));
  rows.push_back(
      key("run.nodes", FIELD(run.nodes))
          .ints(1, 256)
          .doc("in-process nodes, each holding its own model replica kept in step by the "
               "server's updates; client c lives on node c mod N. Results are identical for any "
               "value (only `node_bytes` changes). `baffle run --nodes N` overrides it"));
  rows.push_back(
      key("run.workers", FIELD(run.workers))
          .ints(1, 256)
          .unit("worker processes")
          .doc("`baffle serve` only: the worker processes (`baffle worker`) the run waits for "
               "before its first round; more may join while it runs. Results are identical for "
               "any value. `serve --workers N` overrides it"));
  rows.push_back(
      key("run.verify_every", FIELD(run.verify_every))
          .ints(0)
          .unit("model versions")
          .allowed_note("0: at the end of the run only")
          .doc("every N model versions each node reports its replica's digest and the server "
               "compares it with its own; a mismatch stops the run naming the node and the "
               "version. The end of the run is always checked"));
  rows.push_back(
      key("run.measure_gradient_every", FIELD(run.measure_gradient_every))
          .ints(0)
          .unit("rounds")
          .when("train.algorithm", algorithm_kind::baffle)
          .allowed_note("0: off")
          .doc("every N rounds (async: server updates) the server also computes the true "
               "minibatch gradient - backprop on exactly the minibatches the update's results "
               "used, at the model version each was computed on, weighted as the aggregation "
               "weights them - and `rounds.csv` gets `grad_cosine`, `grad_norm_ratio` and "
               "`true_grad_norm` for the estimate before clipping. One backward pass per result "
               "on those rounds (async: the server also keeps the weights of each older version "
               "a dispatch in flight computes on, at most `concurrency` copies); nothing else in "
               "the run changes"));
  rows.push_back(
      key("run.perturbation_cache_mb", FIELD(run.perturbation_cache_mb))
          .ints(0, 1 << 20)
          .unit("MB per node")
          .when("train.algorithm", algorithm_kind::baffle)
          .allowed_note("0: off")
          .doc("with shared seeds every client of a node evaluates the same K perturbed weight "
               "vectors W + sigma u_k in a round: each node forms each of them once per model "
               "version and round and its clients read them, instead of every client "
               "regenerating K x n directions. At most this many MB of vectors per node (K x n x "
               "4 bytes for the forward scheme, twice that for central; directions beyond it are "
               "formed per client as without the cache). Results are bit-identical for any "
               "value. Per-client seeds do not use it"));
  return rows;
}

#undef FIELD

namespace {

const table_doc docs[] = {
    {"data",
     "Pixels are normalised as (p / 255 - mean) / std with mean and std measured on the training "
     "set. The training images left after the validation split are dealt among the "
     "`clients.count` clients as `partition` says."},
    {"clients.compute",
     "Every draw (latencies, bandwidth factors, speeds, stragglers, jitter, dropout, selection) "
     "comes from its own Philox stream keyed by (seed, purpose, client, round), so changing one "
     "knob never reshuffles the others."},
    {"server",
     "Arrival times follow from the link and device models before anything is computed, so work a "
     "policy will certainly discard (a client that cannot meet the deadline, or arrives after the "
     "first M) is not computed by the simulator; `rounds.csv` counts such clients as `late` and "
     "their forward passes as `wasted_forward_passes` (work real devices would have done for "
     "nothing). Dropped clients do no work. A round in which no result is counted applies no "
     "update; under `sync` and `first-m` it takes no virtual time, under `deadline` it lasts "
     "until the deadline.\n\n**Async (FedBuff).** At time 0 the server dispatches `concurrency` "
     "clients, each drawn uniformly among the idle clients online at that moment (stream (seed, "
     "selection, dispatch number)). Every dispatch computes on the model version current when it "
     "is sent. Results are taken strictly in virtual-time order (ties by client id, then dispatch "
     "number); every arrival frees its slot, and the server immediately dispatches a new client "
     "on the then-current model. When `buffer` results are in, the server applies one update: "
     "each result weighs n_i s(tau_i) / sum_j n_j, with n_i its minibatch size and tau_i = "
     "(current version - the version it computed on), so stale results move the model less (the "
     "weights do not renormalise). A dispatch that drops out (dropout, or going offline before "
     "its result would arrive) frees its slot when its result would have arrived - the server's "
     "timeout. Because every arrival time follows from the link and device models, the simulator "
     "computes each dispatch just before the model it was sent leaves the replica, in parallel "
     "with the others sent on the same version; results are exact regardless of thread count. "
     "BAFFLE's perturbation seed for a dispatch on version v is the round seed of update v + 1, "
     "so with shared seeds one update rebuilds one gradient direction set per version present in "
     "the buffer. Under async a `rounds.csv` row is one update: `selected` counts the dispatches "
     "made since the last update, `stale_mean` and `stale_max` the staleness of the results "
     "aggregated, `late` the results discarded by `max_staleness`; `clients.csv` gains each "
     "client's `mean_staleness`."},
};

}  // namespace

std::span<const table_doc> table_docs() {
  return docs;
}

}  // namespace baffle::schema_detail
