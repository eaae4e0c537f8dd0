#pragma once
// A plot into a PNG or PDF file, whole or not at all. QCustomPlot's own savePng/savePdf write through Qt's
// buffered files and never see a write fail, so a full disk left a truncated curve.pdf under its final
// name; these render into memory and hand the bytes to the checked atomic writer (core/io/AtomicFile.h).

#include <QString>

class QCustomPlot;

namespace tunebench {

// `width` x `height` pixels (0: the plot's own size) at `scale`; false, with `error` (if given) naming
// `path` and the cause, when it could not be written; `path` is then untouched.
bool savePlotPng(QCustomPlot& plot, const QString& path, int width, int height, double scale, QString* error = nullptr);
// A vector PDF of one page, `width` x `height` points (0: the plot's own size).
bool savePlotPdf(QCustomPlot& plot, const QString& path, int width, int height, QString* error = nullptr);

} // namespace tunebench
