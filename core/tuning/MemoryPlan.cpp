#include "core/tuning/MemoryPlan.h"

#include "core/Autocast.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/model/Checkpointing.h"
#include "core/tuning/Strategy.h"

#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <mutex>
#include <unordered_map>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace tunebench {

namespace {

// Counts the bytes of the CPU tensors one thread allocates while a CountingScope is open on it: the live
// total and its peak. Installed in front of LibTorch's CPU allocator only while some scope is open.
class CountingAllocator final : public c10::Allocator
{
public:
    struct Counter
    {
        std::atomic<std::int64_t> live{0}, peak{0};
    };

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
    c10::DataPtr allocate(size_t bytes) override { return wrap(m_base->allocate(bytes), bytes); }
    void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
    c10::DataPtr allocate(size_t bytes) const override { return wrap(m_base->allocate(bytes), bytes); }
#endif

    static CountingAllocator& instance()
    {
        static CountingAllocator* allocator = new CountingAllocator;  // never destroyed: tensors may outlive any scope
        return *allocator;
    }

    // The counter of the scope open on this thread; shared with the records, since a tensor may outlive it.
    static thread_local std::shared_ptr<Counter> t_counter;

    void open()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_scopes++ == 0) {
            m_base = c10::GetCPUAllocator();
            c10::SetCPUAllocator(this, kPriority);
        }
    }
    void close()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (--m_scopes == 0)
            c10::SetCPUAllocator(m_base, kPriority);
    }

private:
    // Above the default's 0, so that setting ours and putting the previous one back both take effect.
    static constexpr std::uint8_t kPriority = 100;

    struct Record
    {
        c10::DataPtr inner;  // the base allocator's, freed with the record
        std::int64_t bytes = 0;
        std::shared_ptr<Counter> counter;  // null: allocated by a thread that was not counting
    };

    // Every block goes out with itself as its context, as LibTorch's raw_allocate (oneDNN's buffers) expects,
    // and the record of who allocated it kept here.
    c10::DataPtr wrap(c10::DataPtr inner, size_t bytes) const
    {
        void* data = inner.get();
        if (!data)
            return inner;
        const c10::Device device = inner.device();
        const std::shared_ptr<Counter>& counter = t_counter;
        {
            std::lock_guard<std::mutex> lock(recordsMutex());
            records().emplace(data, Record{std::move(inner), static_cast<std::int64_t>(bytes), counter});
        }
        if (counter) {
            const std::int64_t live = counter->live.fetch_add(static_cast<std::int64_t>(bytes)) + static_cast<std::int64_t>(bytes);
            std::int64_t peak = counter->peak.load();
            while (live > peak && !counter->peak.compare_exchange_weak(peak, live)) {
            }
        }
        return {data, data, &release, device};
    }

    static void release(void* data)
    {
        Record record;
        {
            std::lock_guard<std::mutex> lock(recordsMutex());
            const auto found = records().find(data);
            if (found == records().end())
                return;
            record = std::move(found->second);
            records().erase(found);
        }
        if (record.counter)
            record.counter->live.fetch_sub(record.bytes);
    }

    c10::DeleterFnPtr raw_deleter() const override { return &release; }

    // Never destroyed: blocks may be freed at any time, also after the allocator has been taken out.
    static std::unordered_map<void*, Record>& records()
    {
        static auto* map = new std::unordered_map<void*, Record>;
        return *map;
    }
    static std::mutex& recordsMutex()
    {
        static auto* mutex = new std::mutex;
        return *mutex;
    }

    c10::Allocator* m_base = nullptr;
    std::mutex m_mutex;
    int m_scopes = 0;
};

thread_local std::shared_ptr<CountingAllocator::Counter> CountingAllocator::t_counter;

// Counts this thread's CPU allocations while it lives (and their frees, on any thread, at any time).
class CountingScope
{
public:
    CountingScope()
    {
        CountingAllocator::instance().open();
        CountingAllocator::t_counter = m_counter;
    }
    ~CountingScope()
    {
        CountingAllocator::t_counter = nullptr;
        CountingAllocator::instance().close();
    }
    CountingScope(const CountingScope&) = delete;
    CountingScope& operator=(const CountingScope&) = delete;

    std::int64_t live() const { return m_counter->live.load(); }
    std::int64_t peak() const { return m_counter->peak.load(); }
    void resetPeak() { m_counter->peak.store(m_counter->live.load()); }

private:
    std::shared_ptr<CountingAllocator::Counter> m_counter = std::make_shared<CountingAllocator::Counter>();
};

// The narrow copies' widths, as eighths of the real ones. Weights go with width x width: three copies; they
// are counted without a step, so the narrowest will do. A step's memory goes with the width when the heads
// narrow with it (the attention's tokens x tokens per head then scale too): two copies, at a quarter and a
// half, wide enough that the same tensors make the peak as in the real model.
constexpr int kEighths = 8;
constexpr std::array<int, 3> kWeightWidths = {1, 2, 3};
constexpr std::array<int, 2> kStepWidths = {2, 4};

bool divides(int width, int eighths) { return width * eighths % kEighths == 0; }

// The model with every width (towers, MLPs, projections, a ResNet's channels) and, where they divide, the
// heads at eighths/8 of the real ones; layers, tokens and resolution unchanged. nullopt when a width does not
// divide.
std::optional<ModelSpec> narrowSpec(const ModelSpec& spec, int eighths)
{
    ModelSpec narrow = spec;
    auto narrowTower = [&](TowerSpec& tower, int attendedWidth) {
        if (!divides(tower.width, eighths) || !divides(tower.mlpWidth, eighths) || !divides(tower.outputDim, eighths) ||
            !divides(attendedWidth, eighths))
            return false;
        tower.width = tower.width * eighths / kEighths;
        tower.mlpWidth = tower.mlpWidth * eighths / kEighths;
        tower.outputDim = tower.outputDim * eighths / kEighths;
        const int attended = attendedWidth * eighths / kEighths;
        if (divides(tower.heads, eighths) && attended % (tower.heads * eighths / kEighths) == 0)
            tower.heads = tower.heads * eighths / kEighths;
        return tower.width > 0 && attended % tower.heads == 0;
    };
    // A ResNet's attention pool attends over its last stage's channels (32 x the stem width).
    if (!narrowTower(narrow.vision, spec.vision.isResNet() ? spec.vision.featureWidth() : spec.vision.width))
        return std::nullopt;
    if (narrow.text && !narrowTower(*narrow.text, spec.text->width))
        return std::nullopt;
    return narrow;
}

ModelSpec checkedNarrowSpec(const ModelSpec& spec, int eighths)
{
    auto narrow = narrowSpec(spec, eighths);
    if (!narrow)
        throw Error("cannot plan memory for " + spec.name + ": its widths do not divide into eighths");
    return *narrow;
}

// The copies' batches and class counts: two sizes each, small, in the real run's proportion (so that the
// image side and the text side weigh in the copies as they will in the run).
std::array<int, 2> copySizes(double own, double other, int least)
{
    const double scale = 2.0 / std::min(own, other);
    const int first = std::clamp(static_cast<int>(std::lround(own * scale)), least, 16);
    return {first, 2 * first};
}

struct CopyCounts
{
    double weights = 0;      // bytes live after attaching
    double trainable = 0;    // parameters
    double step = 0;         // peak bytes of one forward and backward pass above what was live before it
    double evaluation = 0;   // peak bytes of scoring the batch without gradients, above what was live before it
};

std::vector<std::string> classNames(int classes)
{
    std::vector<std::string> names;
    for (int i = 0; i < classes; ++i)
        names.push_back("class " + std::to_string(i));
    return names;
}

// A model of `spec` with the method attached and ready for a training step: Tip-Adapter's cache built, the
// gradients allocated (as after a first step, so that the step's peak is the activations alone) and a batch
// of random images.
struct ReadyStep
{
    std::unique_ptr<Strategy> strategy;
    Batch batch;
    bool trains = true;
    double trainable = 0;
};

ReadyStep readyStep(const MemoryPlanRequest& request, const StrategyInfo& info, const nlohmann::json& params, const ModelSpec& spec,
                    int batch, int classes, const std::function<void()>& afterAttach)
{
    ReadyStep ready;
    ClipModel model{nullptr};
    {
        torch::NoGradGuard noGrad;
        torch::manual_seed(1);
        model = ClipModel(spec);
    }
    TaskSetup setup;
    setup.classNames = classNames(classes);
    setup.tokenizer = request.tokenizer;
    setup.shots = request.shots;
    if (info.capabilities.adaptsToTarget)
        setup.domainNames = {"source", "target"};
    ready.strategy = info.create();
    ready.strategy->attach(model, setup, params);
    ready.trains = ready.strategy->needsTraining();
    if (ready.trains) {
        // Tip-Adapter's cache: shots x classes features (the frozen tower's output, as a feature cache gives it).
        const auto rows = static_cast<std::int64_t>(request.shots) * classes;
        TensorBatchSource train(torch::randn({rows, spec.embedDim()}), torch::arange(rows) % classes, 256, false);
        ready.strategy->prepare(train);
    }
    afterAttach();
    for (auto& p : ready.strategy->trainableParameters())
        ready.trainable += static_cast<double>(p.numel());
    if (!ready.trains || batch == 0)
        return ready;
    for (auto& p : ready.strategy->trainableParameters()) {
        if (!p.grad().defined())
            p.mutable_grad() = torch::zeros_like(p);
    }
    ready.strategy->setTraining(true);
    torch::manual_seed(2);
    const int resolution = spec.vision.imageSize;
    ready.batch = Batch{torch::randn({batch, 3, resolution, resolution}), torch::arange(batch) % classes, {}};
    for (int i = 0; i < batch; ++i)
        ready.batch.indices.push_back(i);
    return ready;
}

// One forward and backward pass in the request's precision (bf16 for fp16 too: the CPU's autocast has only
// bf16, of the same size) and checkpointing.
void runStep(const MemoryPlanRequest& request, ReadyStep& ready)
{
    at::Tensor loss;
    {
        AutocastScope autocast(request.precision == "fp32" ? "fp32" : "bf16", c10::DeviceType::CPU);
        CheckpointingScope checkpointing(parseCheckpointing(request.checkpointing));
        loss = ready.strategy->trainStep(ready.batch).loss;
    }
    loss.backward();
}

// batch 0: the weights and the trainable parameters only, no step.
CopyCounts countCopy(const MemoryPlanRequest& request, const StrategyInfo& info, const nlohmann::json& params, const ModelSpec& spec,
                     int batch, int classes)
{
    CopyCounts counts;
    CountingScope counting;
    ReadyStep ready = readyStep(request, info, params, spec, std::max(batch, 1), classes,
                                [&] { counts.weights = static_cast<double>(counting.live()); });
    counts.trainable = ready.trainable;
    if (!ready.trains || batch == 0)
        return counts;
    const std::int64_t before = counting.live();
    counting.resetPeak();
    runStep(request, ready);
    counts.step = static_cast<double>(counting.peak() - before);
    // Scoring without gradients: also the step's peak where a frozen tower's forward pass outgrows what the
    // backward pass keeps (CoOp's image tower at a large batch), which small copies do not show.
    ready.strategy->setTraining(false);
    torch::NoGradGuard noGrad;
    AutocastScope autocast(request.precision == "fp32" ? "fp32" : "bf16", c10::DeviceType::CPU);
    const std::int64_t resting = counting.live();
    counting.resetPeak();
    (void)ready.strategy->logits(ready.batch.inputs);
    counts.evaluation = static_cast<double>(counting.peak() - resting);
    return counts;
}

// Lagrange's polynomial through (xs[i], ys[i]) at x.
template <size_t N>
double extrapolate(const std::array<int, N>& xs, const std::array<double, N>& ys, double x)
{
    double value = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
        double weight = 1;
        for (size_t j = 0; j < xs.size(); ++j)
            if (j != i)
                weight *= (x - xs[j]) / static_cast<double>(xs[i] - xs[j]);
        value += weight * ys[i];
    }
    return value;
}

// A quantity measured on the grid of copies: [width step][batch][classes].
template <size_t Widths>
using Grid = std::array<std::array<std::array<double, 2>, 2>, Widths>;

// a + b B + c C + d B C through the four corners, as its coefficients {a, b, c, d}.
std::array<double, 4> bilinear(const std::array<std::array<double, 2>, 2>& v, const std::array<int, 2>& batches,
                               const std::array<int, 2>& classes)
{
    const double b0 = batches[0], b1 = batches[1], c0 = classes[0], c1 = classes[1];
    const double d = (v[1][1] - v[1][0] - v[0][1] + v[0][0]) / ((b1 - b0) * (c1 - c0));
    const double b = (v[1][0] - v[0][0]) / (b1 - b0) - d * c0;
    const double c = (v[0][1] - v[0][0]) / (c1 - c0) - d * b0;
    const double a = v[0][0] - b * b0 - c * c0 - d * b0 * c0;
    return {a, b, c, d};
}

// The coefficients {a, b, c, d} at the real width, through the copies' widths.
template <size_t Widths>
std::array<double, 4> atFullWidth(const Grid<Widths>& grid, const std::array<int, Widths>& widths, const std::array<int, 2>& batches,
                                  const std::array<int, 2>& classes)
{
    std::array<std::array<double, Widths>, 4> bySteps{};
    for (size_t w = 0; w < grid.size(); ++w) {
        const auto coefficients = bilinear(grid[w], batches, classes);
        for (size_t i = 0; i < 4; ++i)
            bySteps[i][w] = coefficients[i];
    }
    std::array<double, 4> full{};
    for (size_t i = 0; i < 4; ++i)
        full[i] = extrapolate(widths, bySteps[i], kEighths);
    return full;
}

std::int64_t nonNegative(double bytes) { return static_cast<std::int64_t>(std::llround(std::max(0.0, bytes))); }

} // namespace

std::int64_t MemoryPlan::totalAt(int batch) const
{
    return total() + nonNegative(perImage * (batch - batchSize));
}

int MemoryPlan::largestBatch(std::int64_t bytes) const
{
    const std::int64_t fixed = total() - nonNegative(perImage * batchSize);
    if (bytes < fixed + perImage)
        return 0;
    if (perImage <= 0)
        return 1 << 20;
    return static_cast<int>(std::min<double>(1 << 20, std::floor(static_cast<double>(bytes - fixed) / perImage)));
}

nlohmann::json MemoryPlan::toJson() const
{
    return {{"method", method},
            {"batch_size", batchSize},
            {"classes", classes},
            {"precision", precision},
            {"checkpointing", checkpointing},
            {"optimiser", optimiser},
            {"trains", trains},
            {"trainable", trainable},
            {"weights_bytes", weights},
            {"gradients_bytes", gradients},
            {"optimiser_state_bytes", optimiserState},
            {"activations_bytes", activations},
            {"text_side_bytes", textSide},
            {"per_image_bytes", nonNegative(perImage)},
            {"total_bytes", total()}};
}

MemoryPlan planMemory(const MemoryPlanRequest& request, const std::function<void(int done, int total)>& progress)
{
    const StrategyInfo& info = findStrategy(request.method);
    const std::string refusal = strategyRefusal(info, request.spec);
    if (!refusal.empty())
        throw Error(refusal);
    if (info.capabilities.needsTextTower && !request.tokenizer)
        throw Error(info.title + " needs the CLIP vocabulary to plan its memory");
    if (request.classes < 2)
        throw Error("a memory plan needs at least 2 classes, got " + std::to_string(request.classes));
    if (request.precision != "fp32" && request.precision != "bf16" && request.precision != "fp16")
        throw Error("precision must be fp32, bf16 or fp16, got '" + request.precision + "'");
    parseCheckpointing(request.checkpointing);
    const nlohmann::json params = resolveParams(info.schema, request.options);

    MemoryPlan plan;
    plan.method = request.method;
    plan.classes = request.classes;
    plan.precision = request.precision;
    plan.checkpointing = request.checkpointing;
    {
        auto recipe = info.create();
        const TrainerConfig config = recipe->defaultTrainerConfig(request.shots);
        plan.trains = recipe->needsTraining();
        plan.batchSize = request.batchSize > 0 ? request.batchSize : recipe->defaultBatchSize(request.shots);
        plan.optimiser = config.optimizer == "sgd" && config.momentum == 0 ? "sgd (no momentum)" : config.optimizer;
    }
    if (plan.batchSize < 1)
        throw Error("the batch size must be at least 1, got " + std::to_string(plan.batchSize));

    const std::array<int, 2> batches = copySizes(plan.batchSize, plan.classes, 1);
    const std::array<int, 2> classCounts = copySizes(plan.classes, plan.batchSize, 2);
    const int copies = static_cast<int>(kWeightWidths.size() * classCounts.size() +
                                        (plan.trains ? kStepWidths.size() * batches.size() * classCounts.size() : 0));
    int done = 0;
    auto counted = [&] {
        if (progress)
            progress(++done, copies);
    };
    Grid<kWeightWidths.size()> weights{}, trainable{};
    Grid<kStepWidths.size()> step{}, evaluation{};
    try {
        for (size_t w = 0; w < kWeightWidths.size(); ++w) {
            const ModelSpec narrow = checkedNarrowSpec(request.spec, kWeightWidths[w]);
            for (size_t c = 0; c < classCounts.size(); ++c) {
                const CopyCounts counts = countCopy(request, info, params, narrow, 0, classCounts[c]);
                counted();
                for (size_t b = 0; b < batches.size(); ++b) {  // the same for every batch
                    weights[w][b][c] = counts.weights;
                    trainable[w][b][c] = counts.trainable;
                }
            }
        }
        for (size_t w = 0; w < kStepWidths.size() && plan.trains; ++w) {
            const ModelSpec narrow = checkedNarrowSpec(request.spec, kStepWidths[w]);
            for (size_t b = 0; b < batches.size(); ++b)
                for (size_t c = 0; c < classCounts.size(); ++c) {
                    const CopyCounts counts = countCopy(request, info, params, narrow, batches[b], classCounts[c]);
                    counted();
                    step[w][b][c] = counts.step;
                    evaluation[w][b][c] = counts.evaluation;
                }
        }
    } catch (const std::exception& e) {
        throw Error("cannot plan the memory of " + info.title + ": " + e.what());
    }

    const double batch = plan.batchSize, classes = plan.classes;
    auto evaluate = [&](const std::array<double, 4>& k) { return k[0] + k[1] * batch + k[2] * classes + k[3] * batch * classes; };
    const auto weightCoefficients = atFullWidth(weights, kWeightWidths, batches, classCounts);
    const auto trainableCoefficients = atFullWidth(trainable, kWeightWidths, batches, classCounts);
    const auto trainingCoefficients = atFullWidth(step, kStepWidths, batches, classCounts);
    const auto evaluationCoefficients = atFullWidth(evaluation, kStepWidths, batches, classCounts);
    // The step's peak is the larger of the two at this batch and class count.
    const auto& stepCoefficients = evaluate(evaluationCoefficients) > evaluate(trainingCoefficients) ? evaluationCoefficients : trainingCoefficients;
    plan.weights = nonNegative(evaluate(weightCoefficients));
    plan.trainable = nonNegative(evaluate(trainableCoefficients));
    if (plan.trains) {
        plan.gradients = plan.trainable * 4;
        const int moments = plan.optimiser == "adamw" ? 2 : plan.optimiser == "sgd" ? 1 : 0;
        plan.optimiserState = plan.gradients * moments;
        // What grows with the classes is the text side; the rest (images, the loss) the activations.
        plan.activations = nonNegative(stepCoefficients[0] + stepCoefficients[1] * batch);
        plan.textSide = nonNegative(stepCoefficients[2] * classes + stepCoefficients[3] * batch * classes);
        plan.perImage = std::max(0.0, stepCoefficients[1] + stepCoefficients[3] * classes);
    }
    return plan;
}

MeasuredStep measureTrainingStep(const MemoryPlanRequest& request)
{
    const StrategyInfo& info = findStrategy(request.method);
    const nlohmann::json params = resolveParams(info.schema, request.options);
    int batch = request.batchSize;
    if (batch <= 0)
        batch = info.create()->defaultBatchSize(request.shots);
    CountingScope counting;
    ReadyStep ready = readyStep(request, info, params, request.spec, batch, request.classes, [] {});
    if (!ready.trains)
        throw Error(info.title + " does not train: there is no step to measure");
    {
        // The BLAS's per-thread buffers come with its first product: before the baseline, not in the step.
        torch::NoGradGuard noGrad;
        (void)torch::mm(torch::ones({512, 512}), torch::ones({512, 512}));
    }
    MeasuredStep measured;
#ifdef __GLIBC__
    // Blocks above 64 KiB are mapped and unmapped, not kept in the heap: the resident memory then follows
    // what the step holds (as CUDA's peak allocated does), not what glibc keeps for later. Measuring only.
    mallopt(M_MMAP_THRESHOLD, 64 << 10);
    malloc_trim(0);
#endif
    const std::int64_t before = counting.live();
    counting.resetPeak();
    const std::int64_t baseline = processStatusBytes("VmRSS");
    measured.peakReset = resetPeakResident();
    const auto start = std::chrono::steady_clock::now();
    runStep(request, ready);
    measured.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    measured.residentGrowth = processStatusBytes("VmHWM") - baseline;
    measured.allocatedPeak = counting.peak() - before;
    return measured;
}

std::string formatBytes(double bytes)
{
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024 && unit < 4) {
        bytes /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
    return text;
}

std::vector<std::string> memoryAdvice(const MemoryPlanRequest& request, const MemoryPlan& plan, std::int64_t available, bool cuda)
{
    std::vector<std::string> advice;
    if (plan.total() <= available)
        return advice;
    const int fits = plan.largestBatch(available);
    if (fits >= 1) {
        int accumulate = (plan.batchSize + fits - 1) / fits;
        const int micro = (plan.batchSize + accumulate - 1) / accumulate;
        advice.push_back("--batch-size " + std::to_string(micro) + " --accumulate " + std::to_string(accumulate) + " (an effective batch of " +
                         std::to_string(micro * accumulate) + "): ~" + formatBytes(static_cast<double>(plan.totalAt(micro))));
    }
    auto tryWith = [&](MemoryPlanRequest other, const std::string& option) {
        const MemoryPlan alternative = planMemory(other);
        if (alternative.total() < plan.total())
            advice.push_back(option + ": ~" + formatBytes(static_cast<double>(alternative.total())) +
                             (alternative.total() <= available ? "" : " (still too much)"));
    };
    if (request.checkpointing != "both") {
        MemoryPlanRequest other = request;
        other.checkpointing = "both";
        tryWith(other, "--checkpointing both");
    }
    if (cuda && request.precision == "fp32") {
        MemoryPlanRequest other = request;
        other.precision = "bf16";
        tryWith(other, "--precision bf16");
    }
    return advice;
}

} // namespace tunebench
