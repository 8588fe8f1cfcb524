// Tests for models/perturbation_cache.hpp: a client step reading a node's cached perturbed weights
// gives bit-identical scalars to one forming them itself, for every scheme and direction option
// and for a cache too small for all K vectors; the bound holds; a generation is replaced only
// when no step reads it.
#include "models/perturbation_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/models/estimator_problem.hpp"

namespace baffle {
namespace {

size_t vector_bytes(const problem& p) {
  return p.params.size() * sizeof(float);
}

perturbation_key key_of(const problem& p, const perturbation_plan& plan, uint64_t version = 1) {
  return perturbation_key{p.params.data(), version,     static_cast<int64_t>(p.params.size()),
                          plan.round_seed, plan.k,      plan.sigma,
                          plan.scheme,     plan.options};
}

std::string bits(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

TEST(PerturbationCache, CachedStepsAreBitIdenticalForEverySchemeOptionAndBound) {
  const problem p;
  tbb::task_arena one(1), two(2);
  estimator_options sphere, orthogonal, sparse, rademacher;
  sphere.distribution = direction_distribution::sphere;
  orthogonal.orthogonal = true;
  sparse.sparsity = 0.3;
  rademacher.distribution = direction_distribution::rademacher;
  rademacher.baseline = loss_baseline::mean;
  for (fd_scheme scheme : {fd_scheme::forward, fd_scheme::central}) {
    for (const estimator_options& options :
         {estimator_options{}, sphere, orthogonal, sparse, rademacher}) {
      perturbation_plan plan;
      plan.round_seed = 901;
      plan.k = 12;
      plan.sigma = 1e-2f;
      plan.scheme = scheme;
      plan.options = options;
      const auto plain = baffle_client_step(p.net, p.params, p.batch(), plan, one);
      // All vectors held; five of them; one; each twice over (the second client reads only).
      for (size_t held : {size_t{100}, size_t{5}, size_t{1}}) {
        perturbation_cache cache(held * vector_bytes(p));
        for (int client = 0; client < 2; ++client) {
          for (tbb::task_arena* arena : {&one, &two}) {
            const auto gen = cache.acquire(key_of(p, plan));
            ASSERT_NE(gen, nullptr);
            const auto cached =
                baffle_client_step(p.net, p.params, p.batch(), plan, *arena, nullptr, gen.get());
            EXPECT_EQ(bits(cached.scalars), bits(plain.scalars))
                << static_cast<int>(scheme) << " held " << held << " client " << client;
            EXPECT_EQ(cached.base.loss_sum, plain.base.loss_sum);
            EXPECT_LE(gen->bytes(), cache.max_bytes());
          }
        }
        EXPECT_EQ(cache.generations(), 1u);
      }
    }
  }
}

TEST(PerturbationCache, HoldsTheVectorsThatFitAndFormsEachOnce) {
  const problem p;
  perturbation_plan plan;
  plan.round_seed = 5;
  plan.k = 4;
  plan.scheme = fd_scheme::forward;
  perturbation_cache cache(3 * vector_bytes(p) + 7);
  const auto gen = cache.acquire(key_of(p, plan));
  ASSERT_NE(gen, nullptr);
  EXPECT_TRUE(gen->holds(0, 1.f));
  EXPECT_TRUE(gen->holds(2, 1.f));
  EXPECT_FALSE(gen->holds(3, 1.f));  // the fourth does not fit
  EXPECT_FALSE(gen->complete());
  int formed = 0;
  const auto form = [&](std::span<float> out) {
    ++formed;
    for (float& v : out) v = 2.f;
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(gen->get(1, 1.f, form)[0], 2.f);
  EXPECT_EQ(formed, 1);
  EXPECT_EQ(gen->bytes(), vector_bytes(p));

  // Central: both signs of a direction are slots of their own; three slots fit.
  plan.scheme = fd_scheme::central;
  perturbation_cache central(3 * vector_bytes(p));
  const auto c = central.acquire(key_of(p, plan));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->holds(0, 1.f));
  EXPECT_TRUE(c->holds(0, -1.f));
  EXPECT_TRUE(c->holds(1, 1.f));
  EXPECT_FALSE(c->holds(1, -1.f));

  // Off, or not one vector fits: no generation.
  EXPECT_EQ(perturbation_cache(0).acquire(key_of(p, plan)), nullptr);
  EXPECT_EQ(perturbation_cache(vector_bytes(p) - 1).acquire(key_of(p, plan)), nullptr);
}

TEST(PerturbationCache, AGenerationIsReplacedOnlyOnceNoStepReadsIt) {
  const problem p;
  perturbation_plan plan;
  plan.round_seed = 5;
  plan.k = 2;
  perturbation_cache cache(1 << 20);
  auto first = cache.acquire(key_of(p, plan, 1));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(cache.acquire(key_of(p, plan, 1)), first);  // the same key shares it
  // The next version while a step still reads version 1: that step runs without the cache.
  EXPECT_EQ(cache.acquire(key_of(p, plan, 2)), nullptr);
  first.reset();
  const auto second = cache.acquire(key_of(p, plan, 2));
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->key().version, 2u);
  EXPECT_EQ(cache.generations(), 2u);
  // Any field of the key starts a new generation: here the seed.
  plan.round_seed = 6;
  const perturbation_key other = key_of(p, plan, 2);
  EXPECT_FALSE(other == second->key());
}

// Client actors of a node run on different threads: several form and read the same slots at once.
// Plain std::threads (not TBB's, whose hand-offs tools/test --tsan suppresses), so the TSan run
// checks the cache's own synchronisation.
TEST(PerturbationCache, ConcurrentStepsFormEachVectorOnceAndReadTheSameBits) {
  const problem p;
  perturbation_plan plan;
  plan.round_seed = 44;
  plan.k = 9;
  plan.sigma = 1e-2f;
  plan.scheme = fd_scheme::central;
  tbb::task_arena one(1);
  const auto plain = baffle_client_step(p.net, p.params, p.batch(), plan, one);
  perturbation_cache cache(64 * vector_bytes(p));
  std::vector<std::vector<float>> scalars(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < scalars.size(); ++t) {
    threads.emplace_back([&, t] {
      tbb::task_arena own(1);
      for (int round = 0; round < 3; ++round) {
        const auto gen = cache.acquire(key_of(p, plan));
        scalars[t] =
            baffle_client_step(p.net, p.params, p.batch(), plan, own, nullptr, gen.get()).scalars;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : scalars) EXPECT_EQ(bits(s), bits(plain.scalars));
  EXPECT_EQ(cache.generations(), 1u);
  EXPECT_EQ(cache.acquire(key_of(p, plan))->bytes(), 2 * 9 * vector_bytes(p));
}

}  // namespace
}  // namespace baffle
