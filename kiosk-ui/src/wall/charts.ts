// Loaded on demand (a separate chunk): only what the wall draws, from ECharts' tree-shakable core.
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GraphicComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { init, use, type EChartsType } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, LineChart, PieChart, GridComponent, TooltipComponent, LegendComponent, GraphicComponent, CanvasRenderer]);

export type { EChartsType };
export const createChart = (el: HTMLElement): EChartsType => init(el, null, { renderer: 'canvas' });
