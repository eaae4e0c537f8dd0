#pragma once
// The Qt side's way into the one atomic file writer (core/io/AtomicFile.h), for writers that take a file
// name (QCustomPlot's exports, QFile::copy).

#include "core/io/AtomicFile.h"

#include <QString>

#include <functional>
#include <stdexcept>

namespace tunebench {

// `produce` writes the temporary file it is given and returns whether it managed; on failure `error` (if
// given) says why, naming `path`, and `path` is untouched.
inline bool saveAtomically(const QString& path, const std::function<bool(const QString& temporaryPath)>& produce, QString* error = nullptr)
{
    try {
        replaceFileAtomically(path.toStdString(), [&](const std::string& temporary) {
            if (!produce(QString::fromStdString(temporary)))
                throw std::runtime_error("the writer failed");
        });
        return true;
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
}

} // namespace tunebench
