#include "widgets/results/RunResults.h"

#include "core/Error.h"
#include "core/experiment/RunOutcome.h"
#include "core/io/JsonFields.h"
#include "core/train/RunStore.h"

#include <nlohmann/json.hpp>

#include <QCoreApplication>
#include <QFileInfo>

namespace tunebench {

namespace {

QString stringField(const nlohmann::json& json, const char* key)
{
    return json.contains(key) && json[key].is_string() ? QString::fromStdString(json[key].get<std::string>()) : QString();
}

// The integers of a JSON array (nlohmann's own conversion casts floats: undefined when out of range).
QVector<qint64> integers(const nlohmann::json& array)
{
    QVector<qint64> out;
    if (!array.is_array())
        return out;
    for (const auto& value : array) {
        if (!value.is_number_integer())
            throw nlohmann::json::type_error::create(302, "an integer was expected, got " + value.dump(), nullptr);
        out << value.get<qint64>();
    }
    return out;
}

// One evaluation of a "details" block: {"classes", "accuracy", "n", "per_class", "support", "confusion"}.
RunEvaluation evaluationFromDetails(const nlohmann::json& json)
{
    RunEvaluation out;
    if (!json.is_object() || !json.contains("classes"))
        return out;
    try {
        for (const auto& name : json.at("classes").get<std::vector<std::string>>())
            out.classNames << QString::fromStdString(name);
        out.accuracy = json.value("accuracy", 0.0);
        out.samples = integerField(json, "n", qint64(0), "results.json");
        for (double value : json.value("per_class", std::vector<double>()))
            out.perClass << value;
        out.support = integers(json.value("support", nlohmann::json::array()));
        for (const auto& row : json.value("confusion", nlohmann::json::array()))
            out.confusion << integers(row);
        out.valid = true;
    } catch (const std::exception&) {
        return RunEvaluation{};  // a hand-edited file: show what the plain fields give
    }
    return out;
}

// Older results.json files (before "details"): accuracy and per-class values keyed by class name.
RunEvaluation evaluationFromPlainJson(const nlohmann::json& accuracy, const nlohmann::json& eval)
{
    RunEvaluation out;
    if (!accuracy.is_number())
        return out;
    out.valid = true;
    out.accuracy = accuracy.get<double>();
    if (eval.is_object()) {
        out.samples = integerField(eval, "n", qint64(0), "results.json");
        if (eval.contains("per_class") && eval["per_class"].is_object())
            for (const auto& [name, value] : eval["per_class"].items()) {
                out.classNames << QString::fromStdString(name);
                out.perClass << (value.is_number() ? value.get<double>() : -1.0);
            }
    }
    return out;
}

QVector<QStringList> nearestWordsFromJson(const nlohmann::json& nearest)
{
    QVector<QStringList> out;
    if (!nearest.is_array())
        return out;
    for (const auto& vector : nearest) {
        QStringList words;
        if (vector.is_object() && vector.contains("nearest") && vector["nearest"].is_array())
            for (const auto& word : vector["nearest"])
                if (word.is_object() && word.contains("word") && word["word"].is_string())
                    words << QString::fromStdString(word["word"].get<std::string>());
        out << words;
    }
    return out;
}

} // namespace

RunResults runResultsFromJson(const nlohmann::json& results, const QString& folder)
{
    RunResults r;
    r.runFolder = folder;
    r.runId = QFileInfo(folder).fileName();
    r.method = stringField(results, "method");
    r.methodTitle = r.method;
    try {
        const StrategyInfo& info = findStrategy(r.method.toStdString());
        r.methodTitle = QString::fromStdString(info.title);
        r.capabilities = info.capabilities;
    } catch (const std::exception&) {
        // a method of another build: its name, default capabilities
    }
    if (r.runId.contains("-imported") || results.contains("imported_from"))
        r.methodTitle += QCoreApplication::translate("tunebench::RunResults", " (imported)");
    r.dataset = stringField(results, "dataset");
    r.status = stringField(results, "status");
    r.message = stringField(results, "message");
    r.baseNew = results.value("base_new", false);
    const std::string where = folder.isEmpty() ? std::string("results") : (folder + "/results.json").toStdString();
    r.shots = integerField(results, "shots", 0, where);
    r.seed = integerField(results, "seed", 0, where);
    r.trainableParameters = integerField(results, "trainable_parameters", qint64(0), where);
    r.exportPath = stringField(results, "export");
    if (results.contains("problems") && results["problems"].is_array())
        for (const auto& problem : results["problems"])
            if (problem.is_string())
                r.problems << QString::fromStdString(problem.get<std::string>());
    const nlohmann::json details = results.value("details", nlohmann::json::object());
    if (details.is_object() && details.contains("first")) {
        // Written by the experiment layer: class order and confusion matrices as the run saw them.
        r.trainingClasses = evaluationFromDetails(details["first"]);
        r.novel = evaluationFromDetails(details.value("novel", nlohmann::json()));
        r.handcraftedTrainingClasses = evaluationFromDetails(details.value("handcrafted_first", nlohmann::json()));
        r.handcraftedNovel = evaluationFromDetails(details.value("handcrafted_novel", nlohmann::json()));
        r.nearestWords = nearestWordsFromJson(details.value("nearest_words", nlohmann::json()));
        r.seconds = details.value("seconds", 0.0);
        const nlohmann::json targets = details.value("targets", nlohmann::json());
        if (targets.is_array()) {  // in settings.evalDatasets' order
            for (const auto& target : targets)
                if (target.is_object() && target.contains("dataset") && target["dataset"].is_string()) {
                    r.targetNames << QString::fromStdString(target["dataset"].get<std::string>());
                    r.targets << evaluationFromDetails(target);
                }
            const nlohmann::json handcrafted = details.value("handcrafted_targets", nlohmann::json::array());
            for (const QString& name : r.targetNames) {
                RunEvaluation baseline;
                for (const auto& target : handcrafted)
                    if (target.is_object() && target.value("dataset", "") == name.toStdString())
                        baseline = evaluationFromDetails(target);
                r.handcraftedTargets << baseline;
            }
        } else if (targets.is_object()) {  // older files: by name
            for (const auto& [name, evaluation] : targets.items()) {
                r.targetNames << QString::fromStdString(name);
                r.targets << evaluationFromDetails(evaluation);
            }
        }
    } else {
        r.trainingClasses = evaluationFromPlainJson(results.value("accuracy", nlohmann::json()), results.contains("eval") ? results["eval"] : results);
        if (r.baseNew)
            r.novel = evaluationFromPlainJson(results.value("new", nlohmann::json()), results.value("new_eval", nlohmann::json()));
        r.seconds = results.value("seconds", 0.0);
    }
    r.novelMessage = stringField(results, "new_message");
    if (results.contains("h") && results["h"].is_number())
        r.harmonic = results["h"].get<double>();
    // The headline figures come from the one typed reader every view shares.
    try {
        const RunOutcome outcome = RunOutcome::fromJson(results, where);
        if (const auto first = outcome.firstAccuracy()) {
            r.firstAccuracy = first->value;
            r.firstAccuracyKind = QString::fromStdString(first->name);
        }
    } catch (const std::exception&) {
        // a hand-edited file: the plain fields above are what it gives
    }
    return r;
}

RunResults readRunFolder(const QString& folder)
{
    const RunStore store = RunStore::open(folder.toStdString());
    const nlohmann::json results = store.readResults();
    if (!results.is_object())
        throw Error(folder.toStdString() + ": the run has no results.json yet");
    return runResultsFromJson(results, folder);
}

std::optional<RunResults> handcraftedBaseline(const RunResults& run)
{
    if (!run.handcraftedTrainingClasses.valid)
        return std::nullopt;
    RunResults r;
    r.runId = QString("hand-crafted-%1-seed%2-%3-%4images")
                  .arg(run.dataset)
                  .arg(run.seed)
                  .arg(run.baseNew ? "base-new" : "all")
                  .arg(run.handcraftedTrainingClasses.samples);
    r.method = "zeroshot";
    r.methodTitle = QCoreApplication::translate("tunebench::RunResults", "Hand-crafted prompt");
    try {
        r.capabilities = findStrategy("zeroshot").capabilities;
    } catch (const std::exception&) {
    }
    r.dataset = run.dataset;
    r.status = "finished";
    r.baseNew = run.baseNew;
    r.shots = 0;
    r.seed = run.seed;
    r.trainingClasses = run.handcraftedTrainingClasses;
    r.novel = run.handcraftedNovel;
    r.firstAccuracy = run.handcraftedTrainingClasses.accuracy;
    r.firstAccuracyKind = run.baseNew ? "base" : "accuracy";
    if (run.baseNew && r.novel.valid && r.trainingClasses.accuracy + r.novel.accuracy > 0)
        r.harmonic = 2 * r.trainingClasses.accuracy * r.novel.accuracy / (r.trainingClasses.accuracy + r.novel.accuracy);
    r.targetNames = run.targetNames;
    r.targets = run.handcraftedTargets;
    // Its own per-class view compares it with itself: no second column.
    return r;
}

QString runStatusText(const std::string& status)
{
    static const std::pair<const char*, const char*> texts[] = {
        {"finished", QT_TRANSLATE_NOOP("RunStatus", "finished")},     {"stopped", QT_TRANSLATE_NOOP("RunStatus", "stopped")},
        {"diverged", QT_TRANSLATE_NOOP("RunStatus", "diverged")},     {"failed", QT_TRANSLATE_NOOP("RunStatus", "failed")},
        {"out_of_memory", QT_TRANSLATE_NOOP("RunStatus", "out of memory")}, {"running", QT_TRANSLATE_NOOP("RunStatus", "running")},
        {"unreadable", QT_TRANSLATE_NOOP("RunStatus", "unreadable")},
    };
    for (const auto& [name, text] : texts)
        if (status == name)
            return QCoreApplication::translate("RunStatus", text);
    return QString::fromStdString(status);
}

int storeRun(QVector<RunResults>& runs, const RunResults& results)
{
    for (int i = 0; i < runs.size(); ++i)
        if (!results.runId.isEmpty() && runs[i].runId == results.runId) {
            runs[i] = results;
            return i;
        }
    runs.append(results);
    return runs.size() - 1;
}

} // namespace tunebench
