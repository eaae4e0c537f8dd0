#pragma once
// The kinds of study. A study is a grid of run settings (datasets x methods x shots x seeds x option values,
// a sweep's plan) under one protocol; each cell is a run folder with config.json and results.json. The
// protocol says what one cell runs and which figures of its results.json the seeds are averaged over, so
// that the executors (this process, `--local N` worker processes, a Slurm job array: each runs
// `tunebench-cli train --run-folder RUN`), the collector and the run history treat every protocol alike.
// No Qt.

#include "core/experiment/RunSettings.h"

#include <nlohmann/json.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace tunebench {

struct Backbone;
class RunControl;
class RunStore;
struct StepReport;

// Reports of one running cell, on the cell's thread; any may be empty.
struct CellCallbacks
{
    std::function<void(const std::string&)> onLog;
    std::function<void(const StepReport&)> onStep;
};

struct StudyProtocol
{
    std::string name;      // RunSettings::protocol; "" is "few-shot"
    std::string summary;   // one line for help texts
    bool needsVocabulary = true;  // false: the image tower alone (no tokenizer is looked for)
    // A one-line Error for settings the protocol cannot run (checked when a study is planned, before anything
    // loads). May be empty.
    std::function<void(const RunSettings&)> validate;
    // Runs one cell into `store`'s folder: writes its config.json, continues from what the folder holds when
    // `resume`, and writes results.json (also with status "failed" when an exception escapes, which is
    // rethrown). Returns results.json's content.
    std::function<nlohmann::json(const RunSettings&, const Backbone&, RunStore& store, bool resume, const CellCallbacks&, RunControl*)> run;
    // The figures of a finished cell's results.json that a study averages over its seeds, by name.
    std::function<std::map<std::string, double>(const nlohmann::json& results)> metrics;
};

// The protocols, in the order help lists them; "few-shot" first. Tests may add one (addProtocol); a
// deque, so that references stay valid when they do.
const std::deque<StudyProtocol>& studyProtocols();
// Error listing the known names when there is none called `name` ("" finds "few-shot").
const StudyProtocol& findProtocol(const std::string& name);
// Registers another protocol; Error when the name is taken or `run` or `metrics` is missing.
void addProtocol(StudyProtocol protocol);

// The backbone a cell of `settings` runs on: with the vocabulary when its protocol needs one. An executor
// loads it once for the cells that share the model.
Backbone loadCellBackbone(const RunSettings& settings);
// The backbones of an executor's cells, each loaded once: cells of one model, vocabulary, device and tower
// (what loadCellBackbone reads) share it.
class CellBackbones
{
public:
    const Backbone& of(const RunSettings& settings);
    // A backbone the caller loaded already, for the cells of `settings`' model.
    void add(const RunSettings& settings, const Backbone& backbone);

private:
    static std::string keyOf(const RunSettings& settings);
    std::map<std::string, std::shared_ptr<const Backbone>> m_loaded;
};

// One cell, as every executor runs it: the protocol's checks, then its run into `store`.
nlohmann::json runStudyCell(const RunSettings& settings, const Backbone& backbone, RunStore& store, bool resume,
                            const CellCallbacks& callbacks = {}, RunControl* control = nullptr);

} // namespace tunebench
