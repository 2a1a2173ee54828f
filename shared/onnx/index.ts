export { GraphBuilder, IR_VERSION, DEFAULT_OPSET, ML_DOMAIN } from './graph';
export type { ModelMetadata, ElemType, Dim, AttributeValue } from './graph';
export { logisticRegressionModel, mlpModel } from './dense';
export type { LogisticSpec, MlpSpec, DenseLayer, Activation, Head } from './dense';
export { treeEnsembleClassifierModel, treeEnsembleRegressorModel } from './trees';
export type { TreeEnsembleSpec, TreeNode, TreeSplit, TreeLeaf } from './trees';
