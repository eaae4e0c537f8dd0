#pragma once
// The workbench's view of runs: a training step as the window shows it, and a run's results read from the
// results.json format the experiment layer writes (the same reader for a run just finished and a run folder
// reopened from the history).

#include "core/tuning/StrategyInfo.h"

#include <nlohmann/json_fwd.hpp>

#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

#include <optional>

namespace tunebench {

// One training step as the GUI shows it.
struct RunProgress
{
    int epoch = 0;            // 0-based
    int epochs = 0;
    qint64 step = 0;          // 1-based, global
    qint64 totalSteps = 0;
    double loss = 0;
    double accuracy = -1;     // running accuracy of the epoch; -1 when unknown
    double lr = 0;
    double imagesPerSecond = 0;
    double etaSeconds = 0;
    QString memory;           // device memory in use (CUDA only; empty on the CPU)
};

// Accuracy of one evaluation split.
struct RunEvaluation
{
    bool valid = false;
    double accuracy = 0;
    qint64 samples = 0;
    QStringList classNames;
    QVector<double> perClass;           // -1 where a class has no test sample
    QVector<qint64> support;
    QVector<QVector<qint64>> confusion; // [true][predicted]
};

struct RunResults
{
    QString runId;            // the run folder's name, or a label when no folder is written
    QString method;           // registry key
    QString methodTitle;
    QString dataset;
    QString status;           // finished | stopped | diverged (runStatusText)
    QString message;
    QString runFolder;
    QString exportPath;       // the prompt export's .json, when written
    bool baseNew = false;
    int shots = 0;            // per class; 0 = every training image
    int seed = 0;
    StrategyCapabilities capabilities;  // the method's (defaults for a method this build does not know)
    qint64 trainableParameters = 0;
    double seconds = 0;
    RunEvaluation trainingClasses;  // the training classes: base classes when baseNew, else all classes
    RunEvaluation novel;      // new classes (baseNew only)
    // The hand-crafted prompt (zero-shot CLIP) on the same splits, for the prompt comparison; invalid when
    // not computed (vision-only methods, or compareHandcrafted off).
    RunEvaluation handcraftedTrainingClasses, handcraftedNovel;
    QString novelMessage;     // why there is no new-class accuracy (class-specific contexts)
    double harmonic = -1;     // H = 2BN/(B+N), -1 when not computed
    // The first accuracy a table shows (RunOutcome::firstAccuracy): Base under base-to-new, the target's
    // for an adapted run (DAPL), A_T for a continual stream, else the accuracy; -1 when there is none.
    double firstAccuracy = -1;
    QString firstAccuracyKind;  // "base", "target", "A_T" or "accuracy"
    QVector<QStringList> nearestWords;  // per learned context vector, its nearest vocabulary words (prompt exports)
    // Domain generalisation: the training classes on each target dataset's test images.
    QStringList targetNames;
    QVector<RunEvaluation> targets;
    QVector<RunEvaluation> handcraftedTargets;  // the hand-crafted prompt on the same targets, in targetNames' order
    QStringList problems;     // images the loaders skipped ("PATH: why")
};

// A run's results from results.json's content (with "details" when the experiment layer wrote it; older
// files give what their plain fields hold). `folder` may be empty (a run without a folder).
RunResults runResultsFromJson(const nlohmann::json& results, const QString& folder);
// The dataset's hand-crafted prompt (zero-shot CLIP) as a row of its own, from a run that scored it beside
// the learned method on the same images (Base, New, H and the targets): the baseline every view shows.
// Its id names the dataset, seed, split and test images, so the same baseline is one row however many
// runs scored it. nullopt when the run did not score it.
std::optional<RunResults> handcraftedBaseline(const RunResults& run);

// A finished run's folder read back; throws tunebench::Error when it has no results.json.
RunResults readRunFolder(const QString& folder);

// A run's status in the window's words and language: results.json's (finished, stopped, diverged, failed,
// out_of_memory) and the history's (running, unreadable); an unknown one as it is.
QString runStatusText(const std::string& status);

// Puts `results` into `runs`: in place of the run with the same (non-empty) id, else appended. Returns its
// index. The result views keep their runs this way, so a reopened run replaces its earlier row.
int storeRun(QVector<RunResults>& runs, const RunResults& results);

} // namespace tunebench

Q_DECLARE_METATYPE(tunebench::RunProgress)
Q_DECLARE_METATYPE(tunebench::RunResults)
