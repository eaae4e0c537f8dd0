#include "report/PlotFiles.h"

#include "core/io/AtomicFile.h"
#include "report/PlotStyle.h"  // QCustomPlot's header, with the keywords it needs

#include <QBuffer>
#include <QImage>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QPixmap>

#include <exception>
#include <string_view>

namespace tunebench {

namespace {

bool writeBytes(const QString& path, const QByteArray& bytes, QString* error)
{
    try {
        writeFileAtomically(path.toStdString(), std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())));
        return true;
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
}

bool fail(const QString& path, const char* why, QString* error)
{
    if (error)
        *error = path + ": cannot write (" + QString::fromUtf8(why) + ")";
    return false;
}

} // namespace

bool savePlotPng(QCustomPlot& plot, const QString& path, int width, int height, double scale, QString* error)
{
    QImage image = plot.toPixmap(width, height, scale).toImage();
    const int dotsPerMeter = qRound(96 / 0.0254);  // QCustomPlot's savePng default: 96 dpi
    image.setDotsPerMeterX(dotsPerMeter);
    image.setDotsPerMeterY(dotsPerMeter);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    if (!buffer.open(QIODevice::WriteOnly) || !image.save(&buffer, "PNG"))
        return fail(path, "the PNG encoder failed", error);
    buffer.close();
    return writeBytes(path, bytes, error);
}

bool savePlotPdf(QCustomPlot& plot, const QString& path, int width, int height, QString* error)
{
    if (width <= 0 || height <= 0) {
        width = plot.width();
        height = plot.height();
    }
    QByteArray bytes;
    {
        QBuffer buffer(&bytes);
        if (!buffer.open(QIODevice::WriteOnly))
            return fail(path, "no buffer", error);
        QPdfWriter pdf(&buffer);
        pdf.setResolution(72);  // one pixel of the plot is one point of the page
        pdf.setPageLayout(QPageLayout(QPageSize(QSizeF(width, height), QPageSize::Point, QString(), QPageSize::ExactMatch),
                                      QPageLayout::Portrait, QMarginsF(0, 0, 0, 0), QPageLayout::Point));
        QCPPainter painter;
        if (!painter.begin(&pdf))
            return fail(path, "the PDF painter did not start", error);
        painter.setMode(QCPPainter::pmVectorized);
        painter.setMode(QCPPainter::pmNoCaching);
        plot.toPainter(&painter, width, height);
        painter.end();
    }
    if (!bytes.contains("%%EOF"))
        return fail(path, "the PDF writer did not finish", error);
    return writeBytes(path, bytes, error);
}

} // namespace tunebench
