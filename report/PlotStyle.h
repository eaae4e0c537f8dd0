#pragma once

// What the plot widgets share: QCustomPlot's header, which uses Qt's plain keywords that the project
// disables (LibTorch uses `slots`), and one palette.

#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach

#include <QColor>

namespace tunebench {

// Tableau 10: distinct on screen and in print. Colour `index` of a plot, repeating after ten.
inline QColor plotColour(int index)
{
    static const QColor palette[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
                                     QColor(148, 103, 189), QColor(140, 86, 75), QColor(227, 119, 194), QColor(127, 127, 127),
                                     QColor(188, 189, 34), QColor(23, 190, 207)};
    return palette[index % 10];
}

} // namespace tunebench
