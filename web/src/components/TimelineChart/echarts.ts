// ECharts with only what the timeline chart uses, so the bundle carries no other chart
// types or components: bars on a grid, a tooltip, a legend and the brush, drawn on canvas.
import { BarChart } from 'echarts/charts';
import {
  BrushComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
} from 'echarts/components';
import { init, use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, BrushComponent, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export { init };
export type { ECharts } from 'echarts/core';
